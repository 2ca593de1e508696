{#- The per-row data-quality checks of the transactions: metric name ->
    condition over a row of int_transactions_validated (`transactions`, every
    input row, rejected ones included) and its merchant-list match
    (`merchants`, int_merchants_resolved, null when the id is not listed).
    qa_metric_counts counts the rows of each; metric_failing_rows samples them. -#}
{% macro transaction_checks() %}
    {%- set latest = "timestamp '" ~ var('expected_max_purchase_ts') ~ "'" -%}
    {%- set earliest = "timestamp '" ~ var('expected_min_purchase_ts') ~ "'" -%}
    {{ return({
        'null_merchant_id': 'transactions.merchant_id is null',
        'unknown_category': 'transactions.category is null',
        'amount_le_zero': 'transactions.purchase_amount <= 0',
        'future_timestamp': 'transactions.purchase_ts > ' ~ latest,
        'timestamp_outside_expected_range': 'transactions.purchase_ts > ' ~ latest
            ~ ' or transactions.purchase_ts < ' ~ earliest,
        'denied': "transactions.authorized_flag = 'N'",
        'unexpected_authorized_flag': "transactions.authorized_flag is null"
            ~ " or transactions.authorized_flag not in ('Y', 'N')",
        'unknown_installments': installment_plan_type('transactions.installments') ~ " = 'unknown'",
        'unknown_city': 'transactions.city_id is null or transactions.city_id = -1',
        'unknown_state': 'transactions.state_id is null or transactions.state_id = -1',
        'merchant_id_not_in_merchants':
            'transactions.merchant_id is not null and merchants.merchant_id is null',
    }) }}
{% endmacro %}


{#- A query of the rows behind a data-quality metric, for the quality report's
    sample of a metric that warns or fails:
    dbt show --inline "{{ metric_failing_rows('denied') }}" --limit 10 -#}
{% macro metric_failing_rows(metric_name) %}
    {%- set checks = transaction_checks() -%}
    {%- if metric_name in checks -%}
        select
            transactions.purchase_ts, transactions.purchase_amount, transactions.merchant_id,
            transactions.category, transactions.installments, transactions.authorized_flag,
            transactions.city_id, transactions.state_id, transactions.source_file
        from {{ ref('int_transactions_validated') }} as transactions
        left join {{ ref('int_merchants_resolved') }} as merchants
            on transactions.merchant_id = merchants.merchant_id
        where {{ checks[metric_name] }}
    {%- elif metric_name in ['transactions_rejected_rows', 'merchants_rejected_rows'] -%}
        select * from {{ ref('qa_rejected_rows') }}
        where source_name = '{{ metric_name.split('_')[0] }}'
    {%- elif metric_name == 'conflicting_name_ids' -%}
        select * from {{ ref('qa_merchant_name_conflicts') }}
    {%- elif metric_name == 'ids_without_name' -%}
        select * from {{ ref('int_merchants_resolved') }} where name_status = 'missing'
    {%- elif metric_name == 'merchant_text_not_utf8' -%}
        select * from {{ ref('stg_billups__merchants') }} where {{ not_utf8('merchant_id_raw') }}
            or {{ not_utf8('merchant_name') }}
    {%- elif metric_name == 'exact_duplicate_extra_rows' -%}
        select row_hash, count(*) as copies, max(raw_record) as raw_record
        from {{ ref('int_transactions_validated') }}
        group by 1 having count(*) > 1
    {%- else -%}
        select * from {{ ref('qa_row_ledger') }}
    {%- endif -%}
{% endmacro %}


{#- True when `column` held bytes that are not UTF-8: Spark's CSV reader
    decodes them as U+FFFD, the replacement character. -#}
{% macro not_utf8(column) -%}
    coalesce(instr({{ column }}, '\uFFFD') > 0, false)
{%- endmacro %}


{#- The threshold a metric is judged against: the seed quality_thresholds,
    unless the var quality_threshold_overrides sets it for this run, e.g.
    --vars '{quality_threshold_overrides: {denied: {error_above: 0.4}}}'.
    Expects the metric rows as `metrics` and the seed as `thresholds`. -#}
{% macro quality_threshold(field) %}
    {%- set overrides = var('quality_threshold_overrides', {}) -%}
    {%- set cases = [] -%}
    {%- for metric, values in (overrides if overrides is mapping else {}).items() -%}
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


{#- Where a metric's thresholds come from, for the report and the gate's last
    line: the seed, or the var when it overrides the metric in this run. -#}
{% macro quality_threshold_source() %}
    {%- set overrides = var('quality_threshold_overrides', {}) -%}
    {%- set names = (overrides.keys() | list) if overrides is mapping else [] -%}
    {%- if names -%}
        case when metrics.metric_name in ('{{ names | join("', '") }}')
            then '--vars quality_threshold_overrides' else 'seeds/quality_thresholds.csv' end
    {%- else -%}
        'seeds/quality_thresholds.csv'
    {%- endif -%}
{% endmacro %}
