-- Q5d (hours). Approved sales per hour of the day, all 24 hours (an hour
-- without sales has 0), with the all-rows figures beside them.
with

sales as (

    select * from {{ ref('int_sales_by_day_hour') }}

),

hours as (

    select explode(sequence(0, 23)) as hour

),

hourly as (

    select
        purchase_hour as hour,
        sum(case when is_authorized then purchase_total else 0 end) as approved_amount,
        sum(case when is_authorized then no_of_sales else 0 end) as approved_count,
        sum(purchase_total) as all_rows_amount,
        sum(no_of_sales) as all_rows_count

    from sales
    group by 1

),

all_hours as (

    select
        hours.hour,
        coalesce(hourly.approved_amount, 0) as approved_amount,
        coalesce(hourly.approved_count, 0) as approved_count,
        coalesce(hourly.all_rows_amount, 0) as all_rows_amount,
        coalesce(hourly.all_rows_count, 0) as all_rows_count

    from hours
    left join hourly
        on hours.hour = hourly.hour

),

final as (

    select
        hour,
        concat(lpad(cast(hour as string), 2, '0'), '00') as hour_label,
        cast(approved_amount as decimal(28, 2)) as approved_amount,
        approved_count,
        -- Exact decimal division, half-up to 6 dp; null when nothing was approved.
        cast(approved_amount as decimal(38, 2))
        / cast(nullif(sum(approved_amount) over (), 0) as decimal(38, 2)) as approved_share,
        cast(all_rows_amount as decimal(28, 2)) as all_rows_amount,
        all_rows_count

    from all_hours

)

select * from final
