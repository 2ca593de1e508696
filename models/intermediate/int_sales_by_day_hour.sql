-- The shared pre-aggregation of the time and installment marts (Q3, Q5c, Q5d,
-- Q5e): cleaned transactions summed per day, hour, category, installments and
-- approval. A few hundred thousand rows at most, whatever the input size.
-- Partitioned by purchase month and rebuilt incrementally like
-- int_sales_by_merchant_city_month.
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by=['purchase_month'],
    on_schema_change='fail',
) }}

{%- set months = months_to_rewrite(ref('cln_transactions')) %}

with

transactions as (

    select * from {{ ref('cln_transactions') }}
    where {{ in_months('purchase_month', months) }}

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
        purchase_month

    from transactions
    group by 1, 2, 3, 4, 5, 8

)

select * from aggregated
