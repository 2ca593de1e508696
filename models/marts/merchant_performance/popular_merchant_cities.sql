-- Q4a. Where are the most popular merchants? Popularity = number of
-- transactions (all recorded rows, approved or denied). The top N merchants
-- (var top_popular_merchants) and the cities where their sales happen.
with

sales as (

    select * from {{ ref('int_sales_by_merchant_city') }}

),

merchants as (

    select * from {{ ref('int_merchants_resolved') }}

),

merchant_city_sales as (

    select
        merchant_id,
        city_id,
        sum(no_of_sales) as city_transactions

    from sales
    group by 1, 2

),

ranked_in_city as (

    select
        *,
        -- The merchant's place among all merchants selling in that city.
        row_number() over (
            partition by city_id
            order by city_transactions desc, merchant_id asc nulls last
        ) as rank_in_city

    from merchant_city_sales

),

merchant_sales as (

    select
        merchant_id,
        sum(city_transactions) as merchant_transactions

    from merchant_city_sales
    group by 1

),

top_merchants as (

    select
        *,
        -- row_number: exactly N merchants even on ties; the null-id group
        -- ('Unknown merchant') goes last among equal counts.
        row_number() over (
            order by merchant_transactions desc, merchant_id asc nulls last
        ) as merchant_rank

    from merchant_sales

),

final as (

    select /*+ broadcast(merchants) */
        top_merchants.merchant_rank,
        ranked_in_city.merchant_id,
        {{ merchant_display_name('ranked_in_city.merchant_id', 'merchants.merchant_name') }}
            as merchant_name,
        top_merchants.merchant_transactions,
        ranked_in_city.city_id,
        ranked_in_city.city_transactions,
        -- Exact decimal division, half-up to 6 dp (decimal(38,6)).
        cast(ranked_in_city.city_transactions as decimal(38, 0))
        / cast(top_merchants.merchant_transactions as decimal(38, 0)) as city_share,
        ranked_in_city.rank_in_city,
        merchants.registered_city_id

    from top_merchants
    inner join ranked_in_city
        on top_merchants.merchant_id <=> ranked_in_city.merchant_id
    left join merchants
        on top_merchants.merchant_id = merchants.merchant_id
    where top_merchants.merchant_rank <= {{ var('top_popular_merchants') }}

)

select * from final
