-- The transaction half of qa_metrics, kept per input month so that a new month
-- does not rescan the whole input: per month, input file and combination of
-- quality flags, the raw rows; per month and combination, the extra exact
-- copies (on rows with a null source_file).
--
-- A month here is that of the raw purchase_date ('unreadable' when it does not
-- parse). Exact duplicates share their purchase_date, hence their month, so
-- counting copies within a month counts them all, across files too.
-- Partitioned by that month and built incrementally like cln_transactions
-- (macros/incremental.sql, input_to_rewrite): a run rewrites the months of
-- the changed input files, reading the files that hold those months. The
-- merchant list and the vars in the flags are part of rules_stamp: a new
-- merchants.csv or another expected period rewrites every month.
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by=['input_month'],
    on_schema_change='fail',
    post_hook="{{ record_loaded_input() }}",
) }}

-- noqa: disable=LT02
{%- set transaction_flags = qa_transaction_flags() %}
{%- set flag_bits = [] %}
{%- for flag in transaction_flags %}
    {%- do flag_bits.append('if(' ~ flag[1] ~ ', ' ~ 2 ** loop.index0 ~ ', 0)') %}
{%- endfor %}
{%- set stamp = rules_stamp(transaction_flags, ['model.billups_analytics.cln_merchants']) %}
{%- set rewrite = input_to_rewrite(ref('cln_transactions_validated'), 'historical_transactions', {
    'month_column': 'input_month',
    'month_expression': input_month(),
    'month_literal': '',
    'rows_filter': 'true',
    'rules_stamp': stamp,
}) %}
-- noqa: enable=LT02

-- The input files and rules this run builds from (input_to_rewrite), kept by
-- the post-hook record_loaded_input once the build succeeded:
-- billups.input_state {{ rewrite.input_state }}

with

transactions as (

    select * from {{ ref('stg_billups__transactions') }}
    where
        {{ in_list(input_month(), rewrite.months) }}
        and {{ in_list('source_file', rewrite.files) }}

),

merchants as (

    select * from {{ ref('cln_merchants') }}

),

listed_ids as (

    select distinct merchant_id from merchants

),

row_flags as (

    -- 335k ids: broadcast them, never shuffle the transactions. A null
    -- condition sets no bit, as count_if would not count it.
    select /*+ broadcast(listed_ids) */
        {{ input_month() }} as input_month,
        transactions.source_file,
        transactions.source_file_modified_at,
        transactions.row_hash,
        {{ flag_bits | join('\n        + ') }} as flags

    from transactions
    left join listed_ids
        on transactions.merchant_id = listed_ids.merchant_id

),

counted as (

    -- Both counts in one shuffle (grouping sets): the rows per file and flags,
    -- and the copies of each distinct row (identical rows as delivered share
    -- hash, flags and month). Two different rows share a hash with probability
    -- about n^2 / 2^65 (3e-6 for 10M rows): an informational metric can live
    -- with that.
    select
        input_month,
        source_file,
        source_file_modified_at,
        flags,
        grouping(row_hash) = 0 as is_distinct_row,
        count(*) as row_count

    from row_flags
    group by grouping sets (
        (input_month, source_file, source_file_modified_at, flags),  -- noqa: AM06
        (input_month, row_hash, flags)  -- noqa: AM06
    )

),

final as (

    select
        source_file,
        source_file_modified_at,
        flags,
        sum(if(is_distinct_row, 0, row_count)) as row_count,
        sum(if(is_distinct_row, row_count - 1, 0)) as extra_copies,
        '{{ stamp }}' as rules_stamp,
        -- The partition column goes last (Spark stores it in the path).
        input_month

    from counted
    group by 1, 2, 3, 7

)

select * from final
