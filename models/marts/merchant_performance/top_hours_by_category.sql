-- Q3. Top 3 hours of the day by purchase amount for each category.
with

transactions as (

    select * from {{ ref('cln_transactions') }}

),

hourly_category_sales as (

    select
        category,
        purchase_hour as hour,
        sum(purchase_amount) as purchase_total,
        count(*) as no_of_sales

    from transactions
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
