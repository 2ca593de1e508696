{#
    Writes each named model to <out_dir>/<model>/ as one CSV part file with a
    header, in the model's natural reading order (meta.export_order). Spark does
    the writing, so the same macro works on the embedded session and, with a
    shared filesystem, on a cluster. `billups run` then renames the part file to
    <out_dir>/<model>.csv.

    dbt run-operation export_models --args '{models: [top_hours_by_category], out_dir: /abs/path}'
#}
{% macro export_models(models, out_dir) %}
    {%- for model_name in models -%}
        {%- set nodes = graph.nodes.values()
            | selectattr('resource_type', 'in', ['model', 'seed'])
            | selectattr('name', 'equalto', model_name) | list -%}
        {%- if nodes | length != 1 -%}
            {{ exceptions.raise_compiler_error("export_models: unknown model '" ~ model_name ~ "'") }}
        {%- endif -%}
        {%- set node = nodes[0] -%}
        {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
        {%- if relation is none -%}
            {{ exceptions.raise_compiler_error(
                "export_models: " ~ model_name ~ " has not been built yet (run dbt build first)"
            ) }}
        {%- endif -%}
        {%- set order_by = node.config.meta.get('export_order') -%}
        {#- The documented column order: a partitioned table stores its
            partition column last. -#}
        {%- set columns = node.columns.keys() | map('replace', '`', '``') | list -%}
        {%- set columns = ('`' ~ (columns | join('`, `')) ~ '`') if columns else '*' -%}
        {%- set target_dir = (out_dir | string).rstrip('/') ~ '/' ~ model_name -%}
        {% set sql %}
            insert overwrite directory '{{ target_dir }}'
            using csv
            options (
                header 'true',
                nullValue '',
                emptyValue '',
                dateFormat 'yyyy-MM-dd',
                timestampFormat 'yyyy-MM-dd HH:mm:ss'
            )
            {#- COALESCE(1) merges the sorted partitions in order: one file, sorted. #}
            select /*+ COALESCE(1) */ {{ columns }} from {{ relation }}
            {% if order_by %}order by {{ order_by }}{% endif %}
        {% endset %}
        {%- do run_query(sql) -%}
        {{ log('Exported ' ~ model_name ~ ' to ' ~ target_dir, info=true) }}
    {%- endfor -%}
{% endmacro %}
