-- Where every input row went: one row per (source, file, outcome), outcome
-- 'cleaned' or a rejection reason. The `billups run` summary reads it.
-- Rebuilt only when an input moved (macros/incremental.sql, stamped_table).
{{ config(materialized='stamped_table') }}

with

transactions as (

    select * from {{ ref('cln_transactions') }}

),

merchants as (

    select * from {{ ref('stg_billups__merchants') }}

),

rejected as (

    select * from {{ ref('cln_rejected_rows') }}

),

reasons as (

    select * from {{ ref('rejection_reasons') }}

),

outcomes as (

    select
        'transactions' as source_name,
        source_file,
        'cleaned' as reason_code,
        count(*) as row_count

    from transactions
    group by 1, 2, 3

    union all

    select
        'merchants' as source_name,
        source_file,
        'cleaned' as reason_code,
        count(*) as row_count

    from merchants
    where merchant_id is not null
    group by 1, 2, 3

    union all

    select
        source_name,
        source_file,
        reason_code,
        count(*) as row_count

    from rejected
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
