-- Every staged transaction with the first rule it breaks (null when it passes).
-- cln_transactions keeps the passing rows, cln_rejected_rows the others, so the
-- two always partition the input. Order of the checks decides the one reason a
-- row gets when it breaks several rules.
{{ config(materialized='view') }}

with

transactions as (

    select * from {{ ref('stg_billups__transactions') }}

),

validated as (

    select
        *,
        case
            when purchase_date_raw is null or trim(purchase_date_raw) = ''
                then 'missing_purchase_date'
            when purchase_ts is null
                then 'invalid_purchase_date'
            when purchase_amount is null
                then 'missing_purchase_amount'
            -- NaN is not null in Spark, and +-inf compare equal to themselves.
            when
                isnan(purchase_amount)
                or purchase_amount in (double('inf'), double('-inf'))
                then 'non_finite_purchase_amount'
            when try_cast(purchase_amount as decimal(18, 2)) is null
                then 'purchase_amount_out_of_range'
        end as rejection_reason

    from transactions

)

select * from validated
