-- Every run's test outcomes, appended by the on-run-end hook
-- record_run_history (tests finish after every model, so a model cannot
-- select them). This model only creates the table and its schema.
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
    cast(null as string) as test_unique_id,
    cast(null as string) as test_name,
    cast(null as string) as model_name,
    cast(null as string) as column_name,
    cast(null as string) as severity,
    cast(null as string) as status,
    cast(null as bigint) as failures,
    cast(null as date) as run_date

where false
