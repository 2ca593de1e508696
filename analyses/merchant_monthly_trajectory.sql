{#
    One merchant's monthly trajectory: purchase amount and count per month and
    city, over all recorded rows (approved and denied, as in Q1), with the
    approved figures beside them. Pick the merchant with the var `merchant_id`
    (default: the merchant with the largest purchase total), then run the SQL
    that dbt writes to target/compiled/billups_analytics/analyses/:

        dbt compile --select merchant_monthly_trajectory --vars '{merchant_id: M_ID_1a2b3c4d5e}'
#}
{%- set merchant_id = var('merchant_id', none) -%}

with

transactions as (

    select * from {{ ref('int_transactions_cleaned') }}

),

merchants as (

    select * from {{ ref('int_merchants_resolved') }}

),

chosen_merchant as (

    {% if merchant_id is none -%}
    -- No merchant given: the one with the largest purchase total.
    select
        merchant_id,
        sum(purchase_amount) as purchase_total

    from transactions
    where merchant_id is not null
    group by 1
    order by 2 desc, 1 asc
    limit 1
    {%- else -%}
    select '{{ merchant_id | replace("'", "\\'") }}' as merchant_id
    {%- endif %}

),

merchant_transactions as (

    select transactions.*
    from transactions
    inner join chosen_merchant
        on transactions.merchant_id = chosen_merchant.merchant_id

),

monthly_city_sales as (

    select
        purchase_month,
        city_id,
        merchant_id,
        sum(purchase_amount) as purchase_total,
        count(*) as no_of_sales,
        sum(case when is_authorized then purchase_amount else 0 end) as approved_total,
        count_if(is_authorized) as approved_sales

    from merchant_transactions
    group by 1, 2, 3

),

final as (

    select
        monthly_city_sales.merchant_id,
        {{ merchant_display_name('monthly_city_sales.merchant_id', 'merchants.merchant_name') }}
            as merchant_name,
        monthly_city_sales.purchase_month as month,
        date_format(monthly_city_sales.purchase_month, 'MMM yyyy') as month_label,
        monthly_city_sales.city_id,
        monthly_city_sales.purchase_total,
        monthly_city_sales.no_of_sales,
        monthly_city_sales.approved_total,
        monthly_city_sales.approved_sales,
        -- The city's part of the merchant's month (the shares of a month sum to 1).
        round(
            monthly_city_sales.purchase_total / nullif(
                sum(monthly_city_sales.purchase_total) over (
                    partition by monthly_city_sales.purchase_month
                ),
                0
            ),
            4
        ) as month_share

    from monthly_city_sales
    left join merchants
        on monthly_city_sales.merchant_id = merchants.merchant_id

)

select * from final
-- month, purchase_total desc, city_id
order by 3 asc, 6 desc, 5 asc nulls last
