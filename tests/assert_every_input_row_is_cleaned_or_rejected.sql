-- Nothing lost: per input file, raw rows = cleaned rows + rejected rows,
-- exactly. For merchants.csv the cleaned side is the rows that fed the lookup.
-- Returns one row per file where the ledger does not add up.
with

raw_transactions as (

    select
        _metadata.file_path as source_file,
        count(*) as raw_rows

    from {{ source('billups', 'historical_transactions') }}
    group by 1

),

cleaned_transactions as (

    select
        source_file,
        count(*) as cleaned_rows

    from {{ ref('int_transactions_cleaned') }}
    group by 1

),

raw_merchants as (

    select
        _metadata.file_path as source_file,
        count(*) as raw_rows

    from {{ source('billups', 'merchants') }}
    group by 1

),

merchant_lookup as (

    select sum(source_row_count) as cleaned_rows
    from {{ ref('int_merchants_resolved') }}

),

rejected as (

    select
        source_name,
        source_file,
        count(*) as rejected_rows

    from {{ ref('qa_rejected_rows') }}
    group by 1, 2

),

transaction_ledger as (

    select
        'transactions' as source_name,
        coalesce(
            raw_transactions.source_file,
            cleaned_transactions.source_file,
            rejected.source_file
        ) as source_file,
        coalesce(raw_transactions.raw_rows, 0) as raw_rows,
        coalesce(cleaned_transactions.cleaned_rows, 0) as cleaned_rows,
        coalesce(rejected.rejected_rows, 0) as rejected_rows

    from raw_transactions
    full outer join cleaned_transactions
        on raw_transactions.source_file = cleaned_transactions.source_file
    full outer join rejected
        on
            coalesce(raw_transactions.source_file, cleaned_transactions.source_file)
            = rejected.source_file
            and rejected.source_name = 'transactions'
    where coalesce(rejected.source_name, 'transactions') = 'transactions'

),

merchant_ledger as (

    -- The lookup aggregates merchants.csv across its rows: compare totals.
    select
        'merchants' as source_name,
        'all files' as source_file,
        (select sum(raw_rows) from raw_merchants) as raw_rows,
        (select max(cleaned_rows) from merchant_lookup) as cleaned_rows,
        (
            select coalesce(sum(rejected_rows), 0) from rejected
            where source_name = 'merchants'
        ) as rejected_rows

),

ledger as (

    select * from transaction_ledger
    union all
    select * from merchant_ledger

)

select * from ledger
where raw_rows != cleaned_rows + rejected_rows
