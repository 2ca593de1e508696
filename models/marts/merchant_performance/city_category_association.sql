-- Q4b (statistic). Does location correlate with category? Pearson's
-- chi-square test of independence over the city x category table of
-- city_category_mix, Cramer's V and its bias-corrected version (Bergsma 2013).
-- One row. Doubles from here on: the statistic is not money.
with

mix as (

    select * from {{ ref('city_category_mix') }}

),

sales as (

    select * from {{ ref('int_sales_by_merchant_city') }}

),

unknown_city_rows as (

    select coalesce(sum(no_of_sales), 0) as excluded_unknown_city_rows
    from sales
    where city_id is null or city_id = -1

),

cells as (

    select
        no_of_sales as observed,
        cast(city_sales as double) * cast(category_sales as double)
        / cast(sum(no_of_sales) over () as double) as expected

    from mix

),

-- Aggregates without group by: exactly one row, also on an empty table.
table_size as (

    select
        coalesce(sum(no_of_sales), 0) as n,
        count(distinct city_id) as n_cities,
        count(distinct category) as n_categories

    from mix

),

chi_square as (

    select coalesce(sum(power(observed - expected, 2) / expected), cast(0 as double)) as chi_square
    from cells

),

statistics as (

    select
        table_size.n,
        table_size.n_cities,
        table_size.n_categories,
        chi_square.chi_square,
        greatest(table_size.n_cities - 1, 0)
        * greatest(table_size.n_categories - 1, 0) as degrees_of_freedom,
        least(table_size.n_cities - 1, table_size.n_categories - 1) as min_dimension,
        -- n - 1 as a double; null when n <= 1 (no bias correction possible).
        cast(nullif(greatest(table_size.n - 1, 0), 0) as double) as n_minus_one

    from table_size
    cross join chi_square

),

corrected as (

    select
        *,
        -- V = sqrt(chi2 / (n * min(r - 1, k - 1))); null when a margin has one level.
        sqrt(chi_square / nullif(n * greatest(min_dimension, 0), 0)) as cramers_v_raw,
        -- Bergsma (2013): phi2 = chi2 / n less its bias (r - 1)(k - 1) / (n - 1),
        -- floored at 0; r and k shrunk by (r - 1)^2 / (n - 1) and (k - 1)^2 / (n - 1).
        greatest(
            cast(0 as double),
            chi_square / nullif(n, 0) - degrees_of_freedom / n_minus_one
        ) as phi_square_corrected,
        n_cities - power(n_cities - 1, 2) / n_minus_one as cities_corrected,
        n_categories - power(n_categories - 1, 2) / n_minus_one as categories_corrected

    from statistics

),

bias_corrected as (

    select
        *,
        sqrt(
            phi_square_corrected
            / nullif(greatest(least(cities_corrected, categories_corrected) - 1, 0), 0)
        ) as cramers_v_corrected_raw

    from corrected

),

final as (

    select
        bias_corrected.n,
        bias_corrected.n_cities,
        bias_corrected.n_categories,
        round(bias_corrected.chi_square, 6) as chi_square,
        bias_corrected.degrees_of_freedom,
        round(bias_corrected.cramers_v_raw, 6) as cramers_v,
        round(bias_corrected.cramers_v_corrected_raw, 6) as cramers_v_corrected,
        -- Label of the bias-corrected V; thresholds from the var
        -- association_strength_thresholds.
        case
            when bias_corrected.cramers_v_corrected_raw is null then 'undefined'
            when
                bias_corrected.cramers_v_corrected_raw
                < {{ var('association_strength_thresholds')['weak'] }}
                then 'negligible'
            when
                bias_corrected.cramers_v_corrected_raw
                < {{ var('association_strength_thresholds')['moderate'] }}
                then 'weak'
            when
                bias_corrected.cramers_v_corrected_raw
                < {{ var('association_strength_thresholds')['strong'] }}
                then 'moderate'
            else 'strong'
        end as strength,
        unknown_city_rows.excluded_unknown_city_rows,
        concat(
            'bias-corrected V: < {{ var('association_strength_thresholds')['weak'] }} negligible, ',
            '< {{ var('association_strength_thresholds')['moderate'] }} weak, ',
            '< {{ var('association_strength_thresholds')['strong'] }} moderate, else strong'
        ) as strength_thresholds

    from bias_corrected
    cross join unknown_city_rows

)

select * from final
