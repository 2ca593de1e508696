{#- No group (of the given columns) has more than max_rows rows. -#}
{% test at_most_rows_per_group(model, group_by, max_rows) %}

select
    {{ group_by | join(', ') }},
    count(*) as row_count

from {{ model }}
group by {{ group_by | join(', ') }}
having count(*) > {{ max_rows }}

{% endtest %}
