{#
    The threshold a metric is judged against: the seed quality_thresholds, unless
    the var `quality_threshold_overrides` sets it for this run, e.g.
        dbt build --vars '{quality_threshold_overrides: {future_timestamp: {error_above: 0}}}'
    Expects the metric name in `metrics.metric_name` and the seed as `thresholds`.
#}
{% macro quality_threshold(field) %}
    {%- set overrides = var('quality_threshold_overrides', {}) -%}
    {%- set overrides = overrides if overrides is mapping else {} -%}
    {%- set cases = [] -%}
    {%- for metric, values in overrides.items() -%}
        {%- if values is mapping and field in values -%}
            {%- do cases.append("when '" ~ metric ~ "' then cast(" ~ values[field] ~ " as decimal(18, 8))") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if cases -%}
        case metrics.metric_name {{ cases | join(' ') }} else thresholds.{{ field }} end
    {%- else -%}
        thresholds.{{ field }}
    {%- endif -%}
{% endmacro %}


{#- The per-row quality flags of the transactions, as (metric name, condition)
    pairs; a condition reads a row of stg_billups__transactions as
    `transactions` and the merchant ids of cln_merchants as `listed_ids` (null
    when the row's id is not listed). qa_transaction_flags stores, per row,
    one bit per flag (bit n for the n-th pair, from 0), qa_metrics counts the
    rows per bit: the order is part of the stored data (adding a flag at the
    end keeps the others' bits). -#}
{% macro qa_transaction_flags() %}
    {{ return([
        ('null_merchant_id', 'transactions.merchant_id is null'),
        ('unknown_category', 'transactions.category is null'),
        ('amount_le_zero', "not isnan(transactions.purchase_amount)"
            ~ " and abs(transactions.purchase_amount) != double('inf')"
            ~ " and transactions.purchase_amount <= 0"),
        ('future_timestamp', "transactions.purchase_ts > timestamp('"
            ~ var('expected_max_purchase_ts') ~ "')"),
        ('timestamp_outside_expected_range', "transactions.purchase_ts > timestamp('"
            ~ var('expected_max_purchase_ts') ~ "') or transactions.purchase_ts < timestamp('"
            ~ var('expected_min_purchase_ts') ~ "')"),
        ('denied', "transactions.authorized_flag = 'N'"),
        ('unexpected_authorized_flag', "transactions.authorized_flag is null"
            ~ " or transactions.authorized_flag not in ('Y', 'N')"),
        ('unknown_installments', 'transactions.installments is null or transactions.installments < 0'
            ~ ' or transactions.installments > ' ~ var('max_installments', 36)),
        ('unknown_city', 'transactions.city_id is null or transactions.city_id = -1'),
        ('unknown_state', 'transactions.state_id is null or transactions.state_id = -1'),
        ('merchant_id_not_in_merchants',
            'transactions.merchant_id is not null and listed_ids.merchant_id is null'),
    ]) }}
{% endmacro %}


{#- The transaction input files that hold rejected rows, for cln_rejected_rows
    to read those alone: the files whose raw row count (no column is read)
    exceeds their row count in `cleaned_relation` (cln_transactions; one
    dictionary-encoded column). Rows are cleaned or rejected, never both, so
    the other files have none. The two counts take a few seconds, so a run
    whose inputs and code are those of the table's last build (the table
    property billups.inputs_state, set by stamped_table) takes the files
    already in the quarantine instead. None (read every file) where
    no run is under way: compile, docs, unit tests. -#}
{% macro files_with_rejected_rows(cleaned_relation) %}
    {%- if not execute or this is none or flags.WHICH not in ['run', 'build', 'test'] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) -%}
    {%- if existing is not none and not should_full_refresh()
           and recorded_stamp(this, 'billups.inputs_state') == inputs_stamp(model.raw_code) -%}
        {%- set query -%}
            select distinct source_file from {{ this }} where source_name = 'transactions'
        {%- endset -%}
        {%- set found = 'unchanged inputs' -%}
    {%- else -%}
        {%- set query -%}
            with raw as (
                select _metadata.file_path as source_file, count(*) as row_count
                from {{ source_relation('historical_transactions') }}
                group by 1
            ),
            cleaned as (
                select source_file, count(*) as row_count
                from {{ cleaned_relation }}
                group by 1
            )
            select raw.source_file
            from raw
            left join cleaned on raw.source_file = cleaned.source_file
            where raw.row_count != coalesce(cleaned.row_count, 0)
        {%- endset -%}
        {%- set found = 'counted' -%}
    {%- endif -%}
    {%- set files = run_query(query).columns[0].values() | list | sort -%}
    {{ log(this.identifier ~ ': ' ~ (files | length) ~ ' input file(s) with rejected rows ('
        ~ found ~ ')', info=true) }}
    {{ return(files) }}
{% endmacro %}
