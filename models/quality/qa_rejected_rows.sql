-- The quarantine: every input row that is not in the cleaned layer, with the
-- reason and the raw record as JSON, so nothing is silently dropped.
with

transactions as (

    select * from {{ ref('int_transactions_validated') }}
    where rejection_reason is not null

),

merchants as (

    select * from {{ ref('stg_billups__merchants') }}
    where merchant_id is null

),

unioned as (

    select
        'transactions' as source_name,
        source_file,
        rejection_reason as reason_code,
        raw_record

    from transactions

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

    from merchants

)

select * from unioned
