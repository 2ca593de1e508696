{#- Every row (optionally: every row matching `where`) satisfies a SQL
    boolean expression. A null result counts as a failure. -#}
{% test expression_is_true(model, expression, where_clause=none, column_name=none) %}

select *
from {{ model }}
where
    not coalesce({{ expression }}, false)
{%- if where_clause %}
    and ({{ where_clause }})
    {%- endif %}

{% endtest %}
