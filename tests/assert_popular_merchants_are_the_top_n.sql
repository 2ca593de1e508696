-- Q4a rule, checked against an independent count of the merchant totals
-- (the pre-aggregation, reconciled per month with cln_transactions): the
-- mart holds min(N, merchant groups) merchants with ranks 1..k, one merchant
-- per rank, each merchant's count is its true count and no merchant outside
-- the mart has more transactions than the last one in, and each merchant's
-- city rows add up to its total. Returns one row per broken rule.
with

sales as (

    select * from {{ ref('int_sales_by_merchant_city_month') }}

),

popular as (

    select * from {{ ref('popular_merchant_cities') }}

),

true_counts as (

    select
        merchant_id,
        sum(no_of_sales) as merchant_transactions

    from sales
    group by 1

),

ranks as (

    select
        merchant_rank,
        count(distinct coalesce(merchant_id, '<null>')) as merchants_at_rank,
        max(merchant_transactions) as merchant_transactions,
        min(merchant_transactions) as min_merchant_transactions,
        sum(city_transactions) as city_transactions_total

    from popular
    group by 1

),

rank_summary as (

    select
        count(*) as k,
        min(merchant_rank) as min_rank,
        max(merchant_rank) as max_rank,
        min(merchant_transactions) as last_in_count

    from ranks

),

failures as (

    select 'rank count or contiguity' as failure
    from rank_summary
    where
        k != least({{ var('top_popular_merchants') }}, (select count(*) from true_counts))
        or (k > 0 and (min_rank != 1 or max_rank != k))

    union all

    select 'several merchants at one rank, or counts differ within a merchant' as failure
    from ranks
    where
        merchants_at_rank != 1
        or merchant_transactions != min_merchant_transactions

    union all

    select 'city rows do not add up to the merchant total' as failure
    from ranks
    where city_transactions_total != merchant_transactions

    union all

    select 'merchant count differs from the cleaned layer' as failure
    from popular
    left join true_counts
        on popular.merchant_id <=> true_counts.merchant_id
    where
        true_counts.merchant_transactions is null
        or popular.merchant_transactions != true_counts.merchant_transactions

    union all

    select 'a merchant left out has more transactions than the last one in' as failure
    from true_counts
    cross join rank_summary
    where
        true_counts.merchant_transactions > rank_summary.last_in_count
        and not exists (
            select 1 from popular
            where popular.merchant_id <=> true_counts.merchant_id
        )

)

select * from failures
