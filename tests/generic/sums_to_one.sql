{#- Shares add up: within each group (or over the whole model), sum(column)
    is 1 within `tolerance`, an absolute bound per row summed (each rounded share
    may be off by half a unit of its last place, e.g. 0.0000005 at 6 dp).
    Groups whose shares are all null (nothing to share) are skipped. -#}
{% test sums_to_one(model, column_name, group_by=[], tolerance=0.0000005) %}

with

groups as (

    select
        {% for column in group_by %}{{ column }}, {% endfor %}
        count(*) as row_count,
        count({{ column_name }}) as share_count,
        sum({{ column_name }}) as share_total

    from {{ model }}
{% if group_by %}group by {{ group_by | join(', ') }}{% endif %}

)

select * from groups
where
    share_count > 0
    and abs(share_total - 1) > {{ tolerance }} * row_count

{% endtest %}
