-- Every run's metrics, appended by the on-run-end hook record_run_history
-- once qa_metrics was built (a hook, not a model downstream of qa_metrics: a
-- tripped gate on qa_metrics would skip such a model, and the history would
-- miss exactly the runs that matter). This model only creates the table and
-- its schema. full_refresh=false: `--full-refresh` never wipes the history.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    partition_by=['run_date'],
    full_refresh=false,
) }}

select
    cast(null as string) as run_id,
    cast(null as timestamp) as run_started_at,
    cast(null as string) as metric_name,
    cast(null as bigint) as metric_value,
    cast(null as bigint) as denominator,
    cast(null as decimal(18, 8)) as metric_rate,
    cast(null as string) as status,
    cast(null as date) as run_date

where false
