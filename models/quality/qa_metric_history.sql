-- Every run's metrics, appended: the memory the quality report trends and
-- anomaly checks read. Partitioned by run date. full_refresh=false: `--full-refresh`
-- rebuilds the data, never the history (drop the table to start over).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    partition_by=['run_date'],
    full_refresh=false,
) }}

with

metrics as (

    select * from {{ ref('qa_metrics') }}

),

stamped as (

    select
        '{{ invocation_id }}' as run_id,
        -- run_started_at renders as ISO text with a +00:00 offset (UTC).
        cast('{{ run_started_at }}' as timestamp) as run_started_at,
        metric_name,
        metric_value,
        denominator,
        metric_rate,
        status,
        to_date(cast('{{ run_started_at }}' as timestamp)) as run_date

    from metrics

)

select * from stamped
