-- The data-quality metrics of this run, counted: one row per metric with its
-- value and the denominator it is a share of. Transaction metrics count every
-- input row (int_transactions_validated, rejected rows included); the ledger's
-- three counts come from three models (the staged input, the cleaned rows, the
-- quarantine), so a stale or lost month shows up. qa_metrics judges them.
{%- set checks = transaction_checks() %}

with

raw_transactions as (

    -- One row per input row (a view over the file: the count reads no column).
    select * from {{ ref('stg_billups__transactions') }}

),

transactions as (

    select * from {{ ref('int_transactions_validated') }}

),

cleaned as (

    select * from {{ ref('int_transactions_cleaned') }}

),

rejected as (

    select * from {{ ref('qa_rejected_rows') }}

),

merchants as (

    select * from {{ ref('int_merchants_resolved') }}

),

merchant_rows as (

    select * from {{ ref('stg_billups__merchants') }}

),

transaction_counts as (

    -- One scan for every check (macro transaction_checks). 335k ids:
    -- broadcast them, never shuffle the transactions.
    select /*+ broadcast(merchants) */
        {%- for metric, condition in checks.items() %}
        count_if({{ condition }}) as {{ metric }},
        {%- endfor %}
        count(*) as validated_rows

    from transactions
    left join merchants
        on transactions.merchant_id = merchants.merchant_id

),

duplicate_counts as (

    -- Identical rows as delivered share row_hash. Two different rows share one
    -- with probability about n^2 / 2^65 (3e-6 for 10M rows): an informational
    -- metric can live with that.
    select count(*) - count(distinct row_hash) as exact_duplicate_extra_rows
    from transactions

),

ledger_counts as (

    select
        (select count(*) from raw_transactions) as raw_rows,
        (select count(*) from cleaned) as cleaned_rows,
        (
            select count(*) from rejected
            where source_name = 'transactions'
        ) as rejected_rows,
        (
            select count(*) from rejected
            where source_name = 'merchants'
        ) as merchant_rejected_rows

),

merchant_row_counts as (

    select
        count(*) as merchant_raw_rows,
        count_if(
            {{ not_utf8('merchant_id_raw') }} or {{ not_utf8('merchant_name') }}
        ) as merchant_text_not_utf8

    from merchant_rows

),

merchant_counts as (

    select
        count(*) as distinct_ids,
        count_if(name_status = 'conflicting') as conflicting_name_ids,
        count_if(name_status = 'missing') as ids_without_name

    from merchants

),

counts as (

    -- Every count in one row, so the metrics below read a single relation.
    select *  -- noqa: RF02
    from transaction_counts
    cross join duplicate_counts
    cross join ledger_counts
    cross join merchant_row_counts
    cross join merchant_counts

),

metrics as (

    select
        stack(
            {{ 9 + checks | length }},
            'transactions_raw_rows', 'ledger', raw_rows, raw_rows,
            'transactions_cleaned_rows', 'ledger', cleaned_rows, raw_rows,
            'transactions_rejected_rows', 'ledger', rejected_rows, raw_rows,
            -- Either way: rows of a removed input file stay in the incremental
            -- tables (cleaned + rejected > raw) until a --full-refresh.
            'transactions_unreconciled_rows', 'ledger',
            abs(raw_rows - cleaned_rows - rejected_rows), raw_rows,
            'merchants_rejected_rows', 'ledger', merchant_rejected_rows, merchant_raw_rows,
            {%- for metric in checks %}
            '{{ metric }}', 'transactions', {{ metric }}, validated_rows,
            {%- endfor %}
            'exact_duplicate_extra_rows', 'transactions', exact_duplicate_extra_rows,
            validated_rows,
            'conflicting_name_ids', 'merchants', conflicting_name_ids, distinct_ids,
            'ids_without_name', 'merchants', ids_without_name, distinct_ids,
            'merchant_text_not_utf8', 'merchants', merchant_text_not_utf8, merchant_raw_rows
        ) as (metric_name, metric_group, metric_value, denominator)

    from counts

),

final as (

    select
        metric_name,
        metric_group,
        cast(metric_value as bigint) as metric_value,
        cast(denominator as bigint) as denominator

    from metrics

)

select * from final
