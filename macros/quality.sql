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
