-- Q1. Top 5 merchants by purchase amount for each month and city.
--
-- Each month ranks on its own, so the table is partitioned by month and built
-- incrementally: a run rewrites the months rewritten upstream since, every
-- month when cln_merchants (the names) was rebuilt, and every month when the
-- rules changed (this code, var top_merchants_per_month_city). The partition
-- column is stored last; the export writes the documented column order.
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by=['month'],
    on_schema_change='fail',
    post_hook="{{ record_rules_stamp() }}",
) }}

{%- set rules = rules_stamp(var('top_merchants_per_month_city', 5)) %}
{%- set months = months_to_rewrite(
    ref('int_sales_by_merchant_city_month'),
    month_column='month',
    inputs=[ref('cln_merchants')],
    rules=rules,
) %}

-- The rules this run builds under, kept by the post-hook record_rules_stamp
-- once the build succeeded:
-- billups.rules_stamp {{ rules }}

with

sales as (

    select * from {{ ref('int_sales_by_merchant_city_month') }}
    where {{ in_months('purchase_month', months) }}

),

merchants as (

    select * from {{ ref('cln_merchants') }}

),

monthly_merchant_sales as (

    select
        purchase_month as month,
        city_id,
        merchant_id,
        sum(purchase_total) as purchase_total,
        sum(no_of_sales) as no_of_sales

    from sales
    group by 1, 2, 3

),

ranked as (

    select
        *,
        -- row_number, not dense_rank: exactly 5 rows even on ties. The null-id
        -- group ('Unknown merchant') sorts last among equal totals.
        row_number() over (
            partition by month, city_id
            order by purchase_total desc, merchant_id asc nulls last
        ) as rank

    from monthly_merchant_sales

),

final as (

    select /*+ broadcast(merchants) */
        date_format(ranked.month, 'MMM yyyy') as month_label,
        ranked.city_id,
        ranked.rank,
        ranked.merchant_id,
        {{ merchant_display_name('ranked.merchant_id', 'merchants.merchant_name') }}
            as merchant_name,
        ranked.purchase_total,
        ranked.no_of_sales,
        -- The partition column goes last (Spark stores it in the path).
        ranked.month

    from ranked
    left join merchants
        on ranked.merchant_id = merchants.merchant_id
    where ranked.rank <= {{ var('top_merchants_per_month_city', 5) }}

)

select * from final
