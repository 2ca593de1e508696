-- One row per raw transaction row: renamed, typed and trimmed, nothing dropped.
-- Validation happens in the cleaned layer, so the raw text of the two columns
-- that can be rejected is kept beside its typed value.
with

source as (

    select
        *,
        -- File metadata (Spark's hidden _metadata struct), not columns of the
        -- file: a filter on the path prunes the scan to the files named, so the
        -- incremental build reads new files only.
        {{ source_file_metadata('file_path', 'string') }} as source_file_path,
        {{ source_file_metadata('file_modification_time', 'timestamp') }}
            as source_file_modified_at

    from {{ source('billups', 'historical_transactions') }}

),

renamed as (

    select
        nullif(trim(merchant_id), '') as merchant_id,
        trim(customer_id) as customer_id,
        upper(trim(authorized_flag)) as authorized_flag,
        nullif(trim(category), '') as category,
        cast(purchase_date as string) as purchase_date_raw,
        try_to_timestamp(
            trim(cast(purchase_date as string)), 'yyyy-MM-dd HH:mm:ss'
        ) as purchase_ts,
        cast(purchase_amount as double) as purchase_amount,
        cast(city_id as bigint) as city_id,
        cast(state_id as bigint) as state_id,
        cast(installments as bigint) as installments,
        cast(merchant_category_id as bigint) as merchant_category_id,
        cast(subsector_id as bigint) as subsector_id,
        cast(month_lag as bigint) as month_lag,
        source_file_path as source_file,
        source_file_modified_at,
        -- The row as delivered (before any trimming), hashed: qa_metrics counts
        -- exact duplicates with it.
        xxhash64(
            authorized_flag,
            customer_id,
            city_id,
            installments,
            category,
            merchant_category_id,
            merchant_id,
            month_lag,
            purchase_date,
            state_id,
            subsector_id,
            purchase_amount
        ) as row_hash

    from source

)

select * from renamed
