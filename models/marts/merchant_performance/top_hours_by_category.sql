-- Q3. Top 3 hours of the day by purchase amount for each category.
with

sales as (

    select * from {{ ref('int_sales_by_day_hour') }}

),

hourly_category_sales as (

    select
        category,
        purchase_hour as hour,
        sum(purchase_total) as purchase_total,
        sum(no_of_sales) as no_of_sales

    from sales
    group by 1, 2

),

ranked as (

    select
        *,
        row_number() over (
            partition by category
            order by purchase_total desc, hour asc
        ) as rank

    from hourly_category_sales

),

final as (

    select
        category,
        rank,
        hour,
        concat(lpad(cast(hour as string), 2, '0'), '00') as hour_label,
        purchase_total,
        no_of_sales

    from ranked
    where rank <= {{ var('top_hours_per_category', 3) }}

)

select * from final
