-- The cleaned transactions: the validated rows that passed, labelled for
-- analysis (SPEC cleaning rules). A view: the labels follow the rules and vars
-- of this run, whatever month int_transactions_validated last rewrote.
{{ config(materialized='view') }}

with

validated as (

    select * from {{ ref('int_transactions_validated') }}
    where rejection_reason is null

),

cleaned as (

    select
        merchant_id,
        customer_id,
        coalesce(category, 'Unknown category') as category,
        city_id,
        state_id,
        installments,
        {{ installment_plan_type('installments') }} as installment_plan_type,
        merchant_category_id,
        subsector_id,
        month_lag,
        purchase_amount,
        authorized_flag = 'Y' as is_authorized,
        purchase_ts,
        purchase_date,
        purchase_hour,
        source_file,
        loaded_at,
        purchase_month

    from validated

)

select * from cleaned
