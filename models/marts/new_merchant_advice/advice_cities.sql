-- Q5a. Which cities to focus on: approved sales per city (where the sale
-- happened), ranked by approved amount, with the all-rows amount beside it and
-- the growth of the last 3 full months against the 3 full months before.
with

sales as (

    select * from {{ ref('int_sales_by_merchant_city_month') }}

),

months as (

    select * from {{ ref('advice_months') }}

),

-- The 3 latest full months (period 'recent') and the 3 full months before
-- them ('prior'); a full month has a recorded row on every calendar day.
full_months as (

    select
        month,
        observed_days,
        row_number() over (order by month desc) as months_back,
        count(*) over () as full_month_count

    from months
    where not is_partial_month

),

growth_periods as (

    select
        month,
        observed_days,
        case when months_back <= 3 then 'recent' else 'prior' end as period

    from full_months
    -- Growth needs both periods complete: 6 full months or none.
    where months_back <= 6 and full_month_count >= 6

),

period_days as (

    select
        sum(case when period = 'recent' then observed_days else 0 end) as recent_days,
        sum(case when period = 'prior' then observed_days else 0 end) as prior_days

    from growth_periods

),

city_sales as (

    select
        city_id,
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

city_periods as (

    select
        sales.city_id,
        sum(
            case when growth_periods.period = 'recent' then sales.purchase_total else 0 end
        ) as recent_amount,
        sum(
            case when growth_periods.period = 'prior' then sales.purchase_total else 0 end
        ) as prior_amount

    from sales
    inner join growth_periods
        on sales.purchase_month = growth_periods.month
    where sales.is_authorized
    group by 1

),

measured as (

    select
        city_sales.*,
        cast(coalesce(city_periods.recent_amount, 0) as decimal(28, 2)) as recent_3m_amount,
        cast(coalesce(city_periods.prior_amount, 0) as decimal(28, 2)) as prior_3m_amount,
        period_days.recent_days,
        period_days.prior_days

    from city_sales
    cross join period_days
    left join city_periods
        on city_sales.city_id <=> city_periods.city_id

),

final as (

    select
        row_number() over (
            order by approved_amount desc, city_id asc nulls last
        ) as rank,
        city_id,
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
        -- Per-day growth: (recent / recent_days) / (prior / prior_days) - 1, as
        -- one exact division, half-up to 6 dp; null without 6 full months or
        -- when the prior amount is not positive.
        case
            when prior_3m_amount > 0 and recent_days > 0
                then
                    cast(
                        recent_3m_amount * prior_days - prior_3m_amount * recent_days
                        as decimal(38, 2)
                    )
                    / cast(prior_3m_amount * recent_days as decimal(38, 2))
        end as growth_rate,
        cast(all_rows_amount as decimal(28, 2)) as all_rows_amount,
        recent_3m_amount,
        prior_3m_amount,
        coalesce(city_id = -1 or city_id is null, false) as is_unknown_city

    from measured

)

select * from final
