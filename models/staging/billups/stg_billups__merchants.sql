-- One row per merchants.csv row: ids and names trimmed (blank -> null), numbers
-- cast with try_cast so a stray value becomes null instead of failing the run.
-- Materialized as a table (staging is otherwise views): the CSV is parsed once
-- here instead of once per model that reads the merchants.
{{ config(materialized='table') }}

with

source as (

    select
        *,
        {{ source_file_metadata('file_path', 'string') }} as source_file_path,
        {{ source_file_metadata('file_modification_time', 'timestamp') }}
            as source_file_modified_at

    from {{ source('billups', 'merchants') }}

),

renamed as (

    select
        nullif(trim(merchant_id), '') as merchant_id,
        merchant_id as merchant_id_raw,
        nullif(trim(merchant_name), '') as merchant_name,
        try_cast(trim(merchant_group_id) as bigint) as merchant_group_id,
        try_cast(trim(merchant_category_id) as bigint) as merchant_category_id,
        try_cast(trim(subsector_id) as bigint) as subsector_id,
        nullif(trim(most_recent_sales_range), '') as most_recent_sales_range,
        nullif(trim(most_recent_purchases_range), '') as most_recent_purchases_range,
        try_cast(trim(numerical_1) as double) as numerical_1,
        try_cast(trim(numerical_2) as double) as numerical_2,
        try_cast(trim(avg_sales_lag3) as double) as avg_sales_lag3,
        try_cast(trim(avg_purchases_lag3) as double) as avg_purchases_lag3,
        try_cast(trim(active_months_lag3) as bigint) as active_months_lag3,
        try_cast(trim(avg_sales_lag6) as double) as avg_sales_lag6,
        try_cast(trim(avg_purchases_lag6) as double) as avg_purchases_lag6,
        try_cast(trim(active_months_lag6) as bigint) as active_months_lag6,
        try_cast(trim(avg_sales_lag12) as double) as avg_sales_lag12,
        try_cast(trim(avg_purchases_lag12) as double) as avg_purchases_lag12,
        try_cast(trim(active_months_lag12) as bigint) as active_months_lag12,
        try_cast(trim(city_id) as bigint) as city_id,
        try_cast(trim(state_id) as bigint) as state_id,
        source_file_path as source_file,
        source_file_modified_at

    from source

)

select * from renamed
