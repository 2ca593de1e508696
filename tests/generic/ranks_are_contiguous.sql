{#- Within each group, the rank column holds exactly 1..k with no gap and no
    repeat: k distinct ranks, smallest 1, largest k. -#}
{% test ranks_are_contiguous(model, column_name, partition_by=[]) %}

with

groups as (

    select
        {% for column in partition_by %}{{ column }}, {% endfor %}
        count(*) as row_count,
        count(distinct {{ column_name }}) as distinct_ranks,
        min({{ column_name }}) as min_rank,
        max({{ column_name }}) as max_rank

    from {{ model }}
{% if partition_by %}group by {{ partition_by | join(', ') }}{% endif %}

)

select * from groups
where
    row_count != distinct_ranks
    or min_rank != 1
    or max_rank != row_count

{% endtest %}
