-- Data-quality metrics of this run: one row per metric with its value, the
-- denominator it is a share of, the rate, the threshold from the seed
-- quality_thresholds (or a var override) and the resulting status.
-- One scan of the raw layer computes every transaction metric.
with

raw_transactions as (

    select * from {{ source('billups', 'historical_transactions') }}

),

transactions as (

    select * from {{ ref('stg_billups__transactions') }}

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

listed_ids as (

    select distinct merchant_id from merchants

),

transaction_counts as (

    -- 335k ids: broadcast them, never shuffle the transactions.
    select /*+ broadcast(listed_ids) */
        count(*) as raw_rows,
        count_if(transactions.merchant_id is null) as null_merchant_id,
        count_if(transactions.category is null) as unknown_category,
        count_if(
            not isnan(transactions.purchase_amount)
            and abs(transactions.purchase_amount) != double('inf')
            and transactions.purchase_amount <= 0
        ) as amount_le_zero,
        count_if(
            transactions.purchase_ts > timestamp('{{ var("expected_max_purchase_ts") }}')
        ) as future_timestamp,
        count_if(
            transactions.purchase_ts > timestamp('{{ var("expected_max_purchase_ts") }}')
            or transactions.purchase_ts < timestamp('{{ var("expected_min_purchase_ts") }}')
        ) as timestamp_outside_expected_range,
        count_if(transactions.authorized_flag = 'N') as denied,
        count_if(
            transactions.authorized_flag is null
            or transactions.authorized_flag not in ('Y', 'N')
        ) as unexpected_authorized_flag,
        count_if(
            transactions.installments is null
            or transactions.installments < 0
            or transactions.installments > {{ var('max_installments', 36) }}
        ) as unknown_installments,
        count_if(transactions.city_id is null or transactions.city_id = -1) as unknown_city,
        count_if(transactions.state_id is null or transactions.state_id = -1) as unknown_state,
        count_if(
            transactions.merchant_id is not null and listed_ids.merchant_id is null
        ) as merchant_id_not_in_merchants

    from transactions
    left join listed_ids
        on transactions.merchant_id = listed_ids.merchant_id

),

raw_row_hashes as (

    -- Identical raw rows are kept as separate attempts; count the copies,
    -- comparing the values exactly as delivered (before any trimming), by a
    -- 64-bit hash of the whole row: a shuffle of 8 bytes per row instead of the
    -- row itself, in one pass. Two different rows share a hash with
    -- probability about n^2 / 2^65 (3e-6 for 10M rows): an informational metric
    -- can live with that.
    select
        xxhash64(
            authorized_flag,
            customer_id,
            city_id,
            installments,
            category,
            merchant_category_id,
            merchant_id,
            month_lag,
            purchase_date,
            state_id,
            subsector_id,
            purchase_amount
        ) as row_hash

    from raw_transactions

),

row_copies as (

    select
        row_hash,
        count(*) as copies

    from raw_row_hashes
    group by 1

),

duplicate_counts as (

    select coalesce(sum(copies - 1), 0) as exact_duplicate_extra_rows
    from row_copies

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
    cross join duplicate_counts
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
