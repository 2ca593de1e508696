-- Q1 rule, checked against an independent aggregate of the merchant totals:
-- every city-month with a sale has exactly one rank-1 row, and its total is
-- the largest merchant total of that city-month. Reads the pre-aggregation
-- (reconciled per month with int_transactions_cleaned by its own test), not the 7M-row
-- cleaned table.
with

sales as (

    select * from {{ ref('int_sales_by_merchant_city_month') }}

),

top_merchants as (

    select * from {{ ref('top_merchants_by_month_city') }}

),

merchant_totals as (

    select
        purchase_month,
        city_id,
        merchant_id,
        sum(purchase_total) as purchase_total

    from sales
    group by 1, 2, 3

),

city_month_leaders as (

    select
        purchase_month,
        city_id,
        max(purchase_total) as leader_total

    from merchant_totals
    group by 1, 2

),

rank_one as (

    select * from top_merchants
    where rank = 1

)

select
    city_month_leaders.purchase_month,
    city_month_leaders.city_id,
    city_month_leaders.leader_total,
    rank_one.purchase_total as rank_one_total

from city_month_leaders
full outer join rank_one
    on
        city_month_leaders.purchase_month = rank_one.month
        and city_month_leaders.city_id <=> rank_one.city_id
where
    rank_one.purchase_total is null
    or city_month_leaders.leader_total is null
    or rank_one.purchase_total != city_month_leaders.leader_total
