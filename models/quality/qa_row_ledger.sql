-- Where every input row went: one row per (source, file, outcome), outcome
-- 'cleaned' or a rejection reason. The `billups run` summary reads it.
with

transactions as (

    select * from {{ ref('int_transactions_validated') }}

),

merchants as (

    select * from {{ ref('stg_billups__merchants') }}

),

reasons as (

    select * from {{ ref('rejection_reasons') }}

),

outcomes as (

    select
        'transactions' as source_name,
        source_file,
        coalesce(rejection_reason, 'cleaned') as reason_code,
        count(*) as row_count

    from transactions
    group by 1, 2, 3

    union all

    select
        'merchants' as source_name,
        source_file,
        case when merchant_id is null then 'missing_merchant_id' else 'cleaned' end
            as reason_code,
        count(*) as row_count

    from merchants
    group by 1, 2, 3

),

described as (

    select
        outcomes.source_name,
        outcomes.source_file,
        outcomes.reason_code,
        coalesce(reasons.description, 'Row passed validation.') as reason_description,
        outcomes.row_count

    from outcomes
    left join reasons
        on outcomes.reason_code = reasons.reason_code

)

select * from described
