-- The merchant lookup: one row per trimmed merchant_id of merchants.csv, with
-- the name the marts show. An id with exactly one distinct non-blank name gets
-- it; an id with none, or with conflicting names, shows the id itself.
with

merchants as (

    select * from {{ ref('stg_billups__merchants') }}
    where merchant_id is not null

),

merchant_names as (

    select
        merchant_id,
        count(distinct merchant_name) as distinct_name_count,
        min(merchant_name) as only_name,
        count(*) as source_row_count,
        -- Repeated ids may disagree on their registered place: the largest id
        -- wins, so a known city beats the unknown -1.
        max(city_id) as registered_city_id,
        max(state_id) as registered_state_id

    from merchants
    group by 1

),

resolved as (

    select
        merchant_id,
        case
            when distinct_name_count = 1 then only_name
            else merchant_id
        end as merchant_name,
        case
            when distinct_name_count = 1 then 'unique'
            when distinct_name_count = 0 then 'missing'
            else 'conflicting'
        end as name_status,
        distinct_name_count,
        source_row_count,
        registered_city_id,
        registered_state_id

    from merchant_names

)

select * from resolved
