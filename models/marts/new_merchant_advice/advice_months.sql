-- Q5c. Months with interesting behaviour: approved sales per year-month,
-- normalised by the days the data actually covers, with a seasonality index
-- against the mean full month. Partial months are flagged, not dropped.
with

sales as (

    select * from {{ ref('int_sales_by_day_hour') }}

),

monthly as (

    select
        purchase_month as month,
        sum(case when is_authorized then purchase_total else 0 end) as approved_amount,
        sum(case when is_authorized then no_of_sales else 0 end) as approved_count,
        -- A day is observed when any row (approved or denied) falls on it.
        count(distinct purchase_date) as observed_days,
        sum(purchase_total) as all_rows_amount,
        sum(no_of_sales) as all_rows_count

    from sales
    group by 1

),

per_day as (

    select
        *,
        day(last_day(month)) as calendar_days,
        -- Full month: every calendar day has at least one recorded row.
        observed_days < day(last_day(month)) as is_partial_month,
        cast(round(approved_amount / observed_days, 2) as decimal(18, 2))
            as amount_per_observed_day

    from monthly

),

mean_full_month as (

    -- The mean month: unweighted mean of amount_per_observed_day over the full
    -- months, kept as (sum, count) so the index below is one exact division.
    select
        sum(amount_per_observed_day) as sum_per_day,
        count(*) as full_months

    from per_day
    where not is_partial_month

),

final as (

    select
        per_day.month,
        date_format(per_day.month, 'MMM yyyy') as month_label,
        per_day.approved_amount,
        per_day.approved_count,
        per_day.observed_days,
        per_day.amount_per_observed_day,
        -- index = per-day amount / mean full month's per-day amount; 1.00 =
        -- average. Exact decimal division, half-up to 6 dp.
        cast(per_day.amount_per_observed_day * mean_full_month.full_months as decimal(38, 2))
        / cast(nullif(mean_full_month.sum_per_day, 0) as decimal(38, 2)) as seasonality_index,
        per_day.is_partial_month,
        per_day.calendar_days,
        per_day.all_rows_amount,
        per_day.all_rows_count

    from per_day
    cross join mean_full_month

)

select * from final
