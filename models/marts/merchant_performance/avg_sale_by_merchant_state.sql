-- Q2. Average sale amount of each merchant in each state.
with

sales as (

    select * from {{ ref('int_sales_by_merchant_city') }}

),

merchants as (

    select * from {{ ref('int_merchants_resolved') }}

),

merchant_state_sales as (

    select
        merchant_id,
        state_id,
        sum(purchase_total) as purchase_total,
        sum(no_of_sales) as no_of_sales

    from sales
    group by 1, 2

),

averaged as (

    select
        *,
        -- Decimal division then half-up rounding: exact, the same on every engine.
        cast(round(purchase_total / no_of_sales, 2) as decimal(18, 2)) as average_amount

    from merchant_state_sales

),

ranked as (

    select
        *,
        row_number() over (
            order by
                average_amount desc,
                merchant_id asc nulls last,
                state_id asc nulls last
        ) as rank

    from averaged

),

final as (

    select /*+ broadcast(merchants) */
        ranked.rank,
        ranked.merchant_id,
        {{ merchant_display_name('ranked.merchant_id', 'merchants.merchant_name') }}
            as merchant_name,
        ranked.state_id,
        ranked.average_amount,
        ranked.no_of_sales,
        ranked.purchase_total

    from ranked
    left join merchants
        on ranked.merchant_id = merchants.merchant_id

)

select * from final
