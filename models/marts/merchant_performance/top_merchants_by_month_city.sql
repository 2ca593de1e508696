-- Q1. Top 5 merchants by purchase amount for each month and city.
with

sales as (

    select * from {{ ref('int_sales_by_merchant_city_month') }}

),

merchants as (

    select * from {{ ref('int_merchants_resolved') }}

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
        ranked.month,
        date_format(ranked.month, 'MMM yyyy') as month_label,
        ranked.city_id,
        ranked.rank,
        ranked.merchant_id,
        {{ merchant_display_name('ranked.merchant_id', 'merchants.merchant_name') }}
            as merchant_name,
        ranked.purchase_total,
        ranked.no_of_sales

    from ranked
    left join merchants
        on ranked.merchant_id = merchants.merchant_id
    where ranked.rank <= {{ var('top_merchants_per_month_city', 5) }}

)

select * from final
