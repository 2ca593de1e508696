{#- The grain test: no two rows share the same values of the given columns
    (nulls compare equal, as in a group by). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

grouped as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as duplicate_rows

    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}

)

select * from grouped
where duplicate_rows > 1

{% endtest %}
