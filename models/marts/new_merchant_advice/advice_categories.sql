-- Q5b. Which categories to sell: approved sales per category ('Unknown
-- category' included), ranked by approved amount, with the all-rows amount
-- beside it.
with

sales as (

    select * from {{ ref('int_sales_by_merchant_city') }}

),

category_sales as (

    select
        category,
        sum(case when is_authorized then purchase_total else 0 end) as approved_amount,
        sum(case when is_authorized then no_of_sales else 0 end) as approved_count,
        -- The null merchant id ('Unknown merchant') counts as one merchant.
        count(distinct case when is_authorized then merchant_id end)
        + max(case when is_authorized and merchant_id is null then 1 else 0 end)
            as distinct_merchants,
        sum(purchase_total) as all_rows_amount

    from sales
    group by 1

),

final as (

    select
        row_number() over (
            order by approved_amount desc, category asc nulls last
        ) as rank,
        category,
        cast(approved_amount as decimal(28, 2)) as approved_amount,
        -- Exact decimal division, half-up to 6 dp.
        cast(approved_amount as decimal(38, 2))
        / cast(nullif(sum(approved_amount) over (), 0) as decimal(38, 2)) as approved_share,
        approved_count,
        cast(round(approved_amount / nullif(approved_count, 0), 2) as decimal(18, 2))
            as average_ticket,
        distinct_merchants,
        cast(round(approved_amount / nullif(distinct_merchants, 0), 2) as decimal(18, 2))
            as amount_per_merchant,
        cast(all_rows_amount as decimal(28, 2)) as all_rows_amount

    from category_sales

)

select * from final
