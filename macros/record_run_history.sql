{#- on-run-end: appends this invocation's metrics (when it built qa_metrics)
    and test outcomes (data and unit tests) to qa_metric_history and
    qa_test_history, the memory of `billups check`'s trends, anomalies and
    newly failing tests. Does nothing for a table not built yet. -#}
{% macro record_run_history(results) %}
    {%- if execute -%}
        {%- set tables = {} -%}
        {%- for node in graph.nodes.values() if node.name in ['qa_metrics', 'qa_metric_history', 'qa_test_history'] -%}
            {%- do tables.update({node.name: adapter.get_relation(node.database, node.schema, node.alias)}) -%}
        {%- endfor -%}
        {%- set run = "'" ~ invocation_id ~ "', timestamp'" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "'" -%}
        {%- set run_date = "date'" ~ run_started_at.strftime('%Y-%m-%d') ~ "'" -%}
        {%- set built = results | selectattr('node.name', 'equalto', 'qa_metrics')
            | selectattr('status', 'equalto', 'success') | list -%}
        {%- if built and tables.qa_metric_history and tables.qa_metrics -%}
            {%- call statement('record_metric_history') -%}
                insert into {{ tables.qa_metric_history }}
                select {{ run }}, metric_name, metric_value, denominator, metric_rate, status, {{ run_date }}
                from {{ tables.qa_metrics }}
            {%- endcall -%}
        {%- endif -%}
        {%- set rows = [] -%}
        {%- for result in results if result.node.resource_type in ['test', 'unit_test'] -%}
            {%- set node = result.node -%}
            {%- set model_name = node.attached_node.split('.')[-1] if node.attached_node else (
                node.model if node.resource_type == 'unit_test' else '') -%}
            {%- do rows.append('(' ~ run ~ ", '" ~ node.unique_id ~ "', '" ~ node.name ~ "', '"
                ~ (model_name or '') ~ "', " ~ ("'" ~ node.column_name ~ "'" if node.column_name else 'null')
                ~ ", '" ~ ((node.config.severity or 'ERROR') | lower) ~ "', '" ~ result.status ~ "', "
                ~ (result.failures if result.failures is not none else 'null') ~ ', ' ~ run_date ~ ')') -%}
        {%- endfor -%}
        {%- if rows and tables.qa_test_history -%}
            {%- call statement('record_test_history') -%}
                insert into {{ tables.qa_test_history }} values {{ rows | join(',\n') }}
            {%- endcall -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
