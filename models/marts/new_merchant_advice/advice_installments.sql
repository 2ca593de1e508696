-- Q5e. Should merchants accept installments? The expected profit of each
-- installment plan under each scenario of seeds/installment_scenarios, against
-- the profit the same sales would make as single payments (SPEC installment
-- model). Exposure is approved sales; the all-rows figure is shown beside it.
with

sales as (

    select * from {{ ref('int_sales_by_day_hour') }}

),

scenarios as (

    select * from {{ ref('installment_scenarios') }}

),

parameters as (

    select
        scenario,
        default_rate_basis,
        -- 'var': the case-study rate (var monthly_default_rate); 'seed': this row's rate.
        cast(
            case
                when default_rate_source = 'var' then {{ var('monthly_default_rate') }}
                else default_rate
            end as decimal(7, 6)
        ) as default_rate,
        cast({{ var('gross_margin') }} as decimal(7, 6)) as gross_margin,
        cast({{ var('share_paid_before_default') }} as decimal(7, 6))
            as share_paid_before_default

    from scenarios

),

classified as (

    -- Unknown plans (negative, null, 999, above the cap) are left out of the model.
    select
        {{ installment_plan_type('installments') }} as plan_type,
        installments,
        purchase_total,
        no_of_sales,
        is_authorized

    from sales

),

plan_sales as (

    select
        plan_type,
        -- The count of a plan; null for single and unknown (one row each).
        if(plan_type = 'installments', installments, null) as installments,
        sum(case when is_authorized then purchase_total else 0 end) as approved_exposure,
        sum(purchase_total) as all_rows_exposure,
        sum(case when is_authorized then no_of_sales else 0 end) as approved_count

    from classified
    group by 1, 2

),

-- One row per installment count seen in the data, plus single and unknown
-- always (with zeros when no sale has them).
plans as (

    select
        plan_type,
        installments

    from plan_sales
    where plan_type = 'installments'

    union all

    select
        'single' as plan_type,
        cast(null as bigint) as installments

    union all

    select
        'unknown' as plan_type,
        cast(null as bigint) as installments

),

plan_totals as (

    select
        plans.plan_type,
        plans.installments,
        cast(coalesce(plan_sales.approved_exposure, 0) as decimal(28, 2)) as approved_exposure,
        cast(coalesce(plan_sales.all_rows_exposure, 0) as decimal(28, 2)) as all_rows_exposure,
        coalesce(plan_sales.approved_count, 0) as approved_count

    from plans
    left join plan_sales
        on
            plans.plan_type = plan_sales.plan_type
            and plans.installments <=> plan_sales.installments

),

default_probabilities as (

    select
        parameters.*,
        plan_totals.*,
        case
            when plan_totals.plan_type = 'single' then cast(0 as decimal(20, 18))
            when plan_totals.plan_type != 'installments' then null
            when parameters.default_rate_basis = 'flat' then parameters.default_rate
            -- p(n) = 1 - (1 - rate)^n, the power taken exactly in decimals
            -- (18 dp, half-up at each of the n steps).
            when parameters.default_rate_basis = 'monthly'
                then
                    1 - aggregate(
                        sequence(1, plan_totals.installments),
                        cast(1 as decimal(20, 18)),
                        (survival, month_number) -> cast(
                            survival * (1 - parameters.default_rate) as decimal(20, 18)
                        )
                    )
        end as p_default_exact

    from parameters
    cross join plan_totals

),

profit_rates as (

    select
        *,
        -- A paying customer earns margin * price; a defaulter pays
        -- share * price against a cost of (1 - margin) * price. Expected rate:
        -- (1 - p) * margin + p * (share - (1 - margin)) = margin - p * (1 - share).
        cast(
            gross_margin - p_default_exact * (1 - share_paid_before_default)
            as decimal(26, 24)
        ) as profit_rate_exact

    from default_probabilities

),

final as (

    select
        scenario,
        plan_type,
        installments,
        approved_exposure,
        all_rows_exposure,
        approved_count,
        cast(round(approved_exposure / nullif(approved_count, 0), 2) as decimal(18, 2))
            as average_ticket,
        cast(round(p_default_exact, 6) as decimal(9, 6)) as p_default,
        cast(round(profit_rate_exact, 6) as decimal(9, 6)) as expected_profit_rate,
        cast(
            round(cast(approved_exposure as decimal(20, 2)) * profit_rate_exact, 2)
            as decimal(28, 2)
        ) as expected_profit,
        case
            when plan_type != 'unknown'
                then cast(round(approved_exposure * gross_margin, 2) as decimal(28, 2))
        end as single_payment_profit,
        -- Extra sales (as a fraction) the plan must bring to earn what single
        -- payments would: margin / rate - 1; null when the rate is <= 0.
        case
            when profit_rate_exact > 0
                then cast(round(gross_margin / profit_rate_exact - 1, 6) as decimal(18, 6))
        end as break_even_uplift,
        case when plan_type != 'unknown' then profit_rate_exact > 0 end as is_recommended,
        default_rate_basis,
        default_rate,
        gross_margin,
        share_paid_before_default

    from profit_rates

)

select * from final
