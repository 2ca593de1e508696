-- The shared pre-aggregation of the time and installment marts (Q3, Q5c, Q5d,
-- Q5e): cleaned transactions summed per day, hour, category, installments and
-- approval. A few hundred thousand rows at most, whatever the input size.
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by=['purchase_month'],
    on_schema_change='fail',
) }}

with

transactions as (

    select * from {{ ref('int_transactions_cleaned') }}
    {%- if is_incremental() %}
    -- The months int_transactions_validated rewrote since this table's last
    -- build (a month is always written whole, by one run).
    where
        loaded_at > (
            select coalesce(max(built.loaded_at), timestamp '1900-01-01')
            from {{ this }} as built
        )
    {%- endif %}

),

aggregated as (

    select
        purchase_date,
        purchase_hour,
        category,
        installments,
        is_authorized,
        count(*) as no_of_sales,
        sum(purchase_amount) as purchase_total,
        max(loaded_at) as loaded_at,
        purchase_month

    from transactions
    group by 1, 2, 3, 4, 5, 9

)

select * from aggregated
