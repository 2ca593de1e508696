{#
    One city's category mix against the overall mix (all recorded rows, as in
    Q4b): for every category, the city's count and share, the overall count
    and share, the difference in percentage points and the lift (city share /
    overall share; 1.00 = same as overall). Pick the city with the var `city_id`
    (default: the known city with the most transactions), then run the SQL that
    dbt writes to target/compiled/billups_analytics/analyses/:

        dbt compile --select city_category_vs_overall --vars '{city_id: 69}'
#}
{%- set city_id = var('city_id', none) -%}

with

transactions as (

    select * from {{ ref('int_transactions_cleaned') }}

),

chosen_city as (

    {% if city_id is none -%}
    -- No city given: the known city (not -1 or null) with the most transactions.
    select
        city_id,
        count(*) as city_sales

    from transactions
    where city_id is not null and city_id != -1
    group by 1
    order by 2 desc, 1 asc
    limit 1
    {%- else -%}
    select cast({{ city_id | int }} as bigint) as city_id
    {%- endif %}

),

overall_mix as (

    select
        category,
        count(*) as overall_sales

    from transactions
    group by 1

),

city_mix as (

    select
        transactions.category,
        count(*) as city_sales

    from transactions
    inner join chosen_city
        on transactions.city_id = chosen_city.city_id
    group by 1

),

compared as (

    select
        overall_mix.category,
        coalesce(city_mix.city_sales, 0) as city_sales,
        overall_mix.overall_sales,
        cast(coalesce(city_mix.city_sales, 0) as decimal(18, 0))
        / nullif(sum(coalesce(city_mix.city_sales, 0)) over (), 0) as city_share,
        cast(overall_mix.overall_sales as decimal(18, 0))
        / sum(overall_mix.overall_sales) over () as overall_share

    from overall_mix
    left join city_mix
        on overall_mix.category = city_mix.category

),

final as (

    select
        chosen_city.city_id,
        compared.category,
        compared.city_sales,
        round(compared.city_share, 4) as city_share,
        compared.overall_sales,
        round(compared.overall_share, 4) as overall_share,
        round(100 * (compared.city_share - compared.overall_share), 2) as share_difference_pp,
        round(compared.city_share / compared.overall_share, 2) as lift

    from compared
    cross join chosen_city

)

select * from final
-- lift desc, category
order by 8 desc, 2 asc
