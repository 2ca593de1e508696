{#- Gate on a status column: returns the rows whose status is the given one
    (used with severity warn for 'warn' and error for 'error'). -#}
{% test metric_status_is_not(model, status, status_column='status') %}

select *
from {{ model }}
where {{ status_column }} = '{{ status }}'

{% endtest %}
