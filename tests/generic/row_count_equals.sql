{#- The model has exactly `expected` rows (e.g. 1 for a one-row summary). -#}
{% test row_count_equals(model, expected=1) %}

select count(*) as row_count
from {{ model }}
having count(*) != {{ expected }}

{% endtest %}
