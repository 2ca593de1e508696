-- Q2. Average sale amount of each merchant in each state.
with

transactions as (

    select * from {{ ref('cln_transactions') }}

),

merchant_state_sales as (

    select
        merchant_id,
        merchant_name,
        state_id,
        sum(purchase_amount) as purchase_total,
        count(*) as no_of_sales

    from transactions
    group by 1, 2, 3

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

    select
        rank,
        merchant_id,
        merchant_name,
        state_id,
        average_amount,
        no_of_sales,
        purchase_total

    from ranked

)

select * from final
