-- The data-quality metrics of this run, judged: each count of qa_metric_counts
-- with its rate, the thresholds from the seed quality_thresholds (or the var
-- quality_threshold_overrides), where they come from, and the status. A metric
-- that grows with the data is judged on its rate, so the verdict does not
-- depend on the size of the delivery; counts only for what must be zero.
with

metrics as (

    select * from {{ ref('qa_metric_counts') }}

),

thresholds as (

    select * from {{ ref('quality_thresholds') }}

),

rated as (

    select
        metrics.metric_name,
        metrics.metric_group,
        metrics.metric_value,
        metrics.denominator,
        cast(
            case
                when metrics.denominator > 0
                    then metrics.metric_value / metrics.denominator
            end as decimal(18, 8)
        ) as metric_rate,
        thresholds.threshold_on,
        {{ quality_threshold('warn_above') }} as warn_above,
        {{ quality_threshold('error_above') }} as error_above,
        case
            when thresholds.metric_name is not null then {{ quality_threshold_source() }}
        end as threshold_source,
        thresholds.anomaly_tolerance,
        thresholds.description

    from metrics
    left join thresholds
        on metrics.metric_name = thresholds.metric_name

),

judged as (

    select
        *,
        case
            when threshold_on = 'rate' then metric_rate
            when threshold_on = 'count' then metric_value
        end as compared_value

    from rated

),

final as (

    select
        metric_name,
        metric_group,
        metric_value,
        denominator,
        metric_rate,
        threshold_on,
        warn_above,
        error_above,
        threshold_source,
        anomaly_tolerance,
        case
            when threshold_on is null then 'info'
            when compared_value > error_above then 'error'
            when compared_value > warn_above then 'warn'
            else 'pass'
        end as status,
        description

    from judged

)

select * from final
