-- Data-quality metrics of this run: one row per metric with its value, the
-- denominator it is a share of, the rate, the threshold from the seed
-- quality_thresholds (or a var override) and the resulting status. Counted
-- over every input row (int_transactions_validated, rejected rows included);
-- the ledger's three counts come from three models, so they cross-check.
with

raw_transactions as (

    select * from {{ source('billups', 'historical_transactions') }}

),

transactions as (

    select * from {{ ref('int_transactions_validated') }}

),

cleaned as (

    select * from {{ ref('int_transactions_cleaned') }}

),

rejected as (

    select * from {{ ref('qa_rejected_rows') }}

),

merchants as (

    select * from {{ ref('int_merchants_resolved') }}

),

merchant_rows as (

    select * from {{ ref('stg_billups__merchants') }}

),

thresholds as (

    select * from {{ ref('quality_thresholds') }}

),

transaction_counts as (

    -- 335k ids: broadcast them, never shuffle the transactions.
    select /*+ broadcast(merchants) */
        count_if(transactions.merchant_id is null) as null_merchant_id,
        count_if(transactions.category is null) as unknown_category,
        count_if(transactions.purchase_amount <= 0) as amount_le_zero,
        count_if(
            transactions.purchase_ts > timestamp'{{ var("expected_max_purchase_ts") }}'
        ) as future_timestamp,
        count_if(
            transactions.purchase_ts > timestamp'{{ var("expected_max_purchase_ts") }}'
            or transactions.purchase_ts < timestamp'{{ var("expected_min_purchase_ts") }}'
        ) as timestamp_outside_expected_range,
        count_if(transactions.authorized_flag = 'N') as denied,
        count_if(
            transactions.authorized_flag is null
            or transactions.authorized_flag not in ('Y', 'N')
        ) as unexpected_authorized_flag,
        count_if(
            {{ installment_plan_type('transactions.installments') }} = 'unknown'
        ) as unknown_installments,
        count_if(transactions.city_id is null or transactions.city_id = -1) as unknown_city,
        count_if(transactions.state_id is null or transactions.state_id = -1) as unknown_state,
        count_if(
            transactions.merchant_id is not null and merchants.merchant_id is null
        ) as merchant_id_not_in_merchants

    from transactions
    left join merchants
        on transactions.merchant_id = merchants.merchant_id

),

duplicate_counts as (

    -- Identical rows as delivered share row_hash. Two different rows share one
    -- with probability about n^2 / 2^65 (3e-6 for 10M rows): an informational
    -- metric can live with that.
    select count(*) - count(distinct row_hash) as exact_duplicate_extra_rows
    from transactions

),

ledger_counts as (

    select
        (select count(*) from raw_transactions) as raw_rows,
        (select count(*) from cleaned) as cleaned_rows,
        (
            select count(*) from rejected
            where source_name = 'transactions'
        ) as rejected_rows,
        (
            select count(*) from rejected
            where source_name = 'merchants'
        ) as merchant_rejected_rows

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
    cross join duplicate_counts
    cross join ledger_counts
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
            -- Either way: rows of a removed input file stay in the incremental
            -- tables (cleaned + rejected > raw) until a --full-refresh.
            'transactions_unreconciled_rows', 'ledger',
            abs(raw_rows - cleaned_rows - rejected_rows), raw_rows,
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
