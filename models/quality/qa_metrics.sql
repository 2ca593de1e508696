-- Data-quality metrics of this run: one row per metric with its value, the
-- denominator it is a share of, the rate, the threshold from the seed
-- quality_thresholds (or a var override) and the resulting status.
-- The transaction metrics and the count of exact duplicates come from
-- qa_transaction_flags (rows and extra copies per combination of flags, kept
-- per input month), so a new month does not rescan the whole input.
-- Rebuilt only when an input moved (macros/incremental.sql, stamped_table):
-- the metrics of unchanged inputs are the same.
{{ config(materialized='stamped_table') }}
{%- set flag_sums = [] -%}
{%- for flag in qa_transaction_flags() %}
    {%- do flag_sums.append(
        'coalesce(sum(if((flags & ' ~ 2 ** loop.index0 ~ ') != 0, row_count, 0)), 0) as '
        ~ flag[0]
    ) -%}
{%- endfor %}


with

transaction_flags as (

    select * from {{ ref('qa_transaction_flags') }}

),

cleaned as (

    select * from {{ ref('cln_transactions') }}

),

rejected as (

    select * from {{ ref('cln_rejected_rows') }}

),

merchants as (

    select * from {{ ref('cln_merchants') }}

),

merchant_rows as (

    select * from {{ ref('stg_billups__merchants') }}

),

thresholds as (

    select * from {{ ref('quality_thresholds') }}

),

flag_counts as (

    select
        flags,
        sum(row_count) as row_count,
        sum(extra_copies) as extra_copies

    from transaction_flags
    group by 1

),

transaction_counts as (

    select
        coalesce(sum(row_count), 0) as raw_rows,
        coalesce(sum(extra_copies), 0) as exact_duplicate_extra_rows,
        {{ flag_sums | join(',\n        ') }}

    from flag_counts

),

cleaned_counts as (

    select count(*) as cleaned_rows
    from cleaned

),

rejected_counts as (

    select
        count_if(source_name = 'transactions') as rejected_rows,
        count_if(source_name = 'merchants') as merchant_rejected_rows

    from rejected

),

merchant_row_counts as (

    select count(*) as merchant_raw_rows
    from merchant_rows

),

merchant_counts as (

    select
        count(*) as distinct_ids,
        count_if(name_status = 'conflicting') as conflicting_name_ids,
        count_if(name_status = 'missing') as ids_without_name

    from merchants

),

counts as (

    -- Every count in one row, so the metrics below read a single relation.
    select *  -- noqa: RF02
    from transaction_counts
    cross join cleaned_counts
    cross join rejected_counts
    cross join merchant_row_counts
    cross join merchant_counts

),

metrics as (

    select
        stack(
            19,
            'transactions_raw_rows', 'ledger', raw_rows, raw_rows,
            'transactions_cleaned_rows', 'ledger', cleaned_rows, raw_rows,
            'transactions_rejected_rows', 'ledger', rejected_rows, raw_rows,
            'transactions_unreconciled_rows', 'ledger',
            raw_rows - cleaned_rows - rejected_rows, raw_rows,
            'merchants_rejected_rows', 'ledger', merchant_rejected_rows, merchant_raw_rows,
            'null_merchant_id', 'transactions', null_merchant_id, raw_rows,
            'unknown_category', 'transactions', unknown_category, raw_rows,
            'amount_le_zero', 'transactions', amount_le_zero, raw_rows,
            'future_timestamp', 'transactions', future_timestamp, raw_rows,
            'timestamp_outside_expected_range', 'transactions',
            timestamp_outside_expected_range, raw_rows,
            'denied', 'transactions', denied, raw_rows,
            'unexpected_authorized_flag', 'transactions', unexpected_authorized_flag, raw_rows,
            'unknown_installments', 'transactions', unknown_installments, raw_rows,
            'unknown_city', 'transactions', unknown_city, raw_rows,
            'unknown_state', 'transactions', unknown_state, raw_rows,
            'merchant_id_not_in_merchants', 'transactions', merchant_id_not_in_merchants, raw_rows,
            'exact_duplicate_extra_rows', 'transactions', exact_duplicate_extra_rows, raw_rows,
            'conflicting_name_ids', 'merchants', conflicting_name_ids, distinct_ids,
            'ids_without_name', 'merchants', ids_without_name, distinct_ids
        ) as (metric_name, metric_group, metric_value, denominator)

    from counts

),

rated as (

    select
        metrics.metric_name,
        metrics.metric_group,
        cast(metrics.metric_value as bigint) as metric_value,
        cast(metrics.denominator as bigint) as denominator,
        cast(
            case
                when metrics.denominator > 0
                    then metrics.metric_value / metrics.denominator
            end as decimal(18, 8)
        ) as metric_rate,
        thresholds.threshold_on,
        {{ quality_threshold('warn_above') }} as warn_above,
        {{ quality_threshold('error_above') }} as error_above,
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
