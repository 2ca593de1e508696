-- Q1. Top 5 merchants by purchase amount for each month and city.
with

transactions as (

    select * from {{ ref('cln_transactions') }}

),

monthly_merchant_sales as (

    select
        purchase_month as month,
        city_id,
        merchant_id,
        merchant_name,
        sum(purchase_amount) as purchase_total,
        count(*) as no_of_sales

    from transactions
    group by 1, 2, 3, 4

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

    select
        month,
        date_format(month, 'MMM yyyy') as month_label,
        city_id,
        rank,
        merchant_id,
        merchant_name,
        purchase_total,
        no_of_sales

    from ranked
    where rank <= {{ var('top_merchants_per_month_city', 5) }}

)

select * from final
