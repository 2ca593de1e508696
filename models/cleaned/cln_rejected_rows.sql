-- The quarantine: every input row that did not make it into the cleaned layer,
-- with the reason and the raw record as JSON, so nothing is silently dropped.
-- Rebuilt only when an input moved (macros/incremental.sql, stamped_table).
--
-- It reads only the input files that hold rejected rows: those with more raw
-- rows than cleaned rows (files_with_rejected_rows: two counts, skipped when
-- the inputs are those of the last build). Clean input is not parsed twice.
{{ config(materialized='stamped_table') }}

{%- set files = files_with_rejected_rows(ref('cln_transactions')) %}

with

rejected_transactions as (

    select * from {{ ref('cln_transactions_validated') }}
    where
        rejection_reason is not null
        and {{ in_list('source_file', files) }}

),

merchants as (

    select * from {{ ref('stg_billups__merchants') }}

),

rejected_merchants as (

    select * from merchants
    where merchant_id is null

),

unioned as (

    select
        'transactions' as source_name,
        source_file,
        rejection_reason as reason_code,
        to_json(named_struct(
            'authorized_flag', authorized_flag,
            'customer_id', customer_id,
            'city_id', city_id,
            'installments', installments,
            'category', category,
            'merchant_category_id', merchant_category_id,
            'merchant_id', merchant_id,
            'month_lag', month_lag,
            'purchase_date', purchase_date_raw,
            'state_id', state_id,
            'subsector_id', subsector_id,
            'purchase_amount', cast(purchase_amount as string)
        )) as raw_record

    from rejected_transactions

    union all

    select
        'merchants' as source_name,
        source_file,
        'missing_merchant_id' as reason_code,
        to_json(named_struct(
            'merchant_id', merchant_id_raw,
            'merchant_name', merchant_name,
            'city_id', city_id,
            'state_id', state_id
        )) as raw_record

    from rejected_merchants

)

select * from unioned
