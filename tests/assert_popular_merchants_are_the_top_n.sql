-- Q4a rule, checked against an independent count of the merchant totals
-- (the pre-aggregation, reconciled per month with int_transactions_cleaned): the
-- mart holds min(N, merchant groups) merchants with ranks 1..k, one merchant
-- per rank, each merchant's count is its true count and no merchant outside
-- the mart has more transactions than the last one in, and each merchant's
-- city rows add up to its total. Returns one row per broken rule.
-- The true counts are computed once and compared in a single outer join
-- (checking each rule on its own re-aggregated the 3M-row table three times).
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

mart_merchants as (

    select
        merchant_id,
        max(merchant_transactions) as merchant_transactions

    from popular
    group by 1

),

compared as (

    -- One row: every merchant group, in the mart or not, against its true count.
    select
        count(true_counts.merchant_transactions) as merchant_groups,
        count_if(
            mart_merchants.merchant_transactions is not null
            and (
                true_counts.merchant_transactions is null
                or mart_merchants.merchant_transactions != true_counts.merchant_transactions
            )
        ) as wrong_counts,
        max(
            case
                when mart_merchants.merchant_transactions is null
                    then true_counts.merchant_transactions
            end
        ) as best_left_out_count

    from true_counts
    full outer join mart_merchants
        on true_counts.merchant_id <=> mart_merchants.merchant_id

),

summary_checks as (

    select
        stack(
            3,
            rank_summary.k != least(
                {{ var('top_popular_merchants') }}, compared.merchant_groups
            )
            or (
                rank_summary.k > 0
                and (rank_summary.min_rank != 1 or rank_summary.max_rank != rank_summary.k)
            ),
            'rank count or contiguity',
            compared.wrong_counts > 0,
            'merchant count differs from the cleaned layer',
            coalesce(compared.best_left_out_count > rank_summary.last_in_count, false),
            'a merchant left out has more transactions than the last one in'
        ) as (is_broken, failure)

    from compared
    cross join rank_summary

),

failures as (

    select failure
    from summary_checks
    where is_broken

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

)

select * from failures
