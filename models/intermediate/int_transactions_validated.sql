-- Every input transaction, parsed, typed and validated: the first rule a row
-- breaks is its rejection_reason (null when it passes). The only model that
-- reads the raw transactions; int_transactions_cleaned keeps the rows that
-- passed, qa_rejected_rows the others, so the two always partition the input.
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by=['purchase_month'],
    on_schema_change='fail',
) }}

with

staged as (

    select
        *,
        -- Null when purchase_date does not parse: those rows share one partition.
        cast(date_trunc('month', purchase_ts) as date) as purchase_month

    from {{ ref('stg_billups__transactions') }}

),

{% if is_incremental() %}
-- insert_overwrite replaces the month partitions the query returns, so a run
-- loads whole months: those holding a row of an input file newer than the
-- newest file loaded, and those of a backfill.
months_to_load as (

    select distinct staged.purchase_month
    from staged
    where
        staged.source_file_modified_at > (
            select coalesce(max(loaded.source_file_modified_at), timestamp '1900-01-01')
            from {{ this }} as loaded
        )
    {% if var('backfill_months') %}
    union
    -- A backfill: the months of var backfill_months ('2018-01,2018-02').
    select staged.purchase_month
    from staged
    where
        array_contains(
            split('{{ var("backfill_months") }}', ','),
            date_format(staged.purchase_month, 'yyyy-MM')
        )
    {% endif %}

),

{% endif %}
to_load as (

    {% if is_incremental() %}
    -- Broadcast: the months are a handful, and when there is none Spark skips
    -- the scan. <=>: the rows whose date does not parse share the null month.
    select /*+ broadcast(months_to_load) */ staged.*
    from staged
    left semi join months_to_load
        on staged.purchase_month <=> months_to_load.purchase_month
    {% else %}
    select * from staged
    {% endif %}

),

validated as (

    select
        *,
        -- One reason per row, the first rule it breaks, in this order.
        case
            when purchase_date_raw is null or trim(purchase_date_raw) = ''
                then 'missing_purchase_date'
            when purchase_ts is null
                then 'invalid_purchase_date'
            when purchase_amount is null
                then 'missing_purchase_amount'
            -- NaN is not null in Spark, and +-inf compare equal to themselves.
            when
                isnan(purchase_amount)
                or purchase_amount in (double('inf'), double('-inf'))
                then 'non_finite_purchase_amount'
            when try_cast(purchase_amount as decimal(18, 2)) is null
                then 'purchase_amount_out_of_range'
        end as rejection_reason

    from to_load

),

final as (

    select
        merchant_id,
        customer_id,
        authorized_flag,
        category,
        city_id,
        state_id,
        installments,
        merchant_category_id,
        subsector_id,
        month_lag,
        try_cast(purchase_amount as decimal(18, 2)) as purchase_amount,
        purchase_ts,
        to_date(purchase_ts) as purchase_date,
        hour(purchase_ts) as purchase_hour,
        rejection_reason,
        -- The row as read, for the quarantine (rejected rows only).
        case
            when rejection_reason is not null then to_json(named_struct(
                'authorized_flag', authorized_flag,
                'customer_id', customer_id,
                'city_id', city_id,
                'installments', installments,
                'category', category,
                'merchant_category_id', merchant_category_id,
                'merchant_id', merchant_id,
                'month_lag', month_lag,
                'purchase_date', purchase_date_raw,
                'state_id', state_id,
                'subsector_id', subsector_id,
                'purchase_amount', cast(purchase_amount as string)
            ))
        end as raw_record,
        row_hash,
        source_file,
        source_file_modified_at,
        cast('{{ run_started_at }}' as timestamp) as loaded_at,
        -- The partition column goes last (Spark stores it in the path).
        purchase_month

    from validated

)

select * from final
-- One shuffle by month, so each task writes whole months: cheaper than every
-- task sorting its rows by month to write a file into each partition, and a
-- month is a few files, not one per input split.
distribute by purchase_month
