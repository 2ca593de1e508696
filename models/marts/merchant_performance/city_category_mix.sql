-- Q4b (table). City x category transaction counts over all recorded rows,
-- with each category's share of the city's sales, its share of the overall
-- mix and the lift between the two. Unknown cities (-1 or null) are left out,
-- as in the association statistic built on this table.
with

sales as (

    select * from {{ ref('int_sales_by_merchant_city') }}

),

known_city_sales as (

    select * from sales
    where city_id is not null and city_id != -1

),

observed as (

    select
        city_id,
        category,
        sum(no_of_sales) as no_of_sales

    from known_city_sales
    group by 1, 2

),

city_totals as (

    select
        city_id,
        sum(no_of_sales) as city_sales

    from observed
    group by 1

),

category_totals as (

    select
        category,
        sum(no_of_sales) as category_sales

    from observed
    group by 1

),

grand_total as (

    select sum(no_of_sales) as total_sales from observed

),

-- The full grid: a category a city never sold has a row with 0 sales, so the
-- table is the complete contingency table of the chi-square test.
grid as (

    select
        city_totals.city_id,
        category_totals.category,
        coalesce(observed.no_of_sales, 0) as no_of_sales,
        city_totals.city_sales,
        category_totals.category_sales,
        grand_total.total_sales

    from city_totals
    cross join category_totals
    cross join grand_total
    left join observed
        on
            city_totals.city_id = observed.city_id
            and category_totals.category = observed.category

),

final as (

    select
        city_id,
        category,
        no_of_sales,
        -- Exact decimal divisions of counts, half-up to 6 dp (decimal(38,6)).
        cast(no_of_sales as decimal(38, 0))
        / cast(city_sales as decimal(38, 0)) as city_share,
        cast(category_sales as decimal(38, 0))
        / cast(total_sales as decimal(38, 0)) as overall_share,
        -- lift = city_share / overall_share = n_ij * n / (n_i * n_j), exact ratio.
        cast(no_of_sales * total_sales as decimal(38, 0))
        / cast(city_sales * category_sales as decimal(38, 0)) as lift,
        city_sales,
        category_sales

    from grid

)

select * from final
