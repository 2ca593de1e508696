-- For review: every (merchant_id, name) of an id that merchants.csv lists under
-- more than one distinct non-blank name. The marts show such ids by their id.
with

merchants as (

    select * from {{ ref('stg_billups__merchants') }}
    where merchant_id is not null and merchant_name is not null

),

id_names as (

    select
        merchant_id,
        merchant_name,
        count(*) as source_row_count

    from merchants
    group by 1, 2

),

flagged as (

    select
        *,
        count(*) over (partition by merchant_id) as distinct_name_count

    from id_names

)

select * from flagged
where distinct_name_count > 1
