{#
    on-run-end: append this run's test outcomes (data tests and unit tests) to
    qa_test_history, so `billups check` can tell a test that newly fails from
    one that always has. Does nothing when the table has not been built or the
    command ran no test.
#}
{% macro record_test_outcomes(results) %}
    {%- if execute -%}
        {#- ref() cannot be used in a hook: find the model's node in the graph. -#}
        {%- set nodes = graph.nodes.values() | selectattr('name', 'equalto', 'qa_test_history') | list -%}
        {%- set relation = adapter.get_relation(nodes[0].database, nodes[0].schema, nodes[0].alias)
            if nodes else none -%}
        {%- set rows = [] -%}
        {%- for result in results if result.node.resource_type in ['test', 'unit_test'] -%}
            {%- set node = result.node -%}
            {%- set model_name = node.attached_node.split('.')[-1] if node.attached_node else (
                node.model if node.resource_type == 'unit_test' else '') -%}
            {%- set severity = node.config.severity if node.config.severity else 'ERROR' -%}
            {%- do rows.append("('" ~ invocation_id ~ "', timestamp'"
                ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "', '"
                ~ node.unique_id ~ "', '" ~ node.name ~ "', '" ~ (model_name or '') ~ "', "
                ~ ("'" ~ node.column_name ~ "'" if node.column_name else 'null') ~ ", '"
                ~ (severity | lower) ~ "', '" ~ result.status ~ "', "
                ~ (result.failures if result.failures is not none else 'null') ~ ", date'"
                ~ run_started_at.strftime('%Y-%m-%d') ~ "')") -%}
        {%- endfor -%}
        {%- if relation is not none and rows -%}
            {%- call statement('record_test_outcomes') -%}
                insert into {{ relation }}
                values {{ rows | join(',\n') }}
            {%- endcall -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
