{#- Every listed column is set on every row, checked in one scan of the model
    (one not_null test per column would scan a large table once per column).
    Returns one row per column with nulls, with how many. -#}
{% test not_null_columns(model, column_names) %}

{%- set null_counts = [] -%}
{%- set stack_arguments = [] -%}
{%- for column in column_names -%}
    {%- do null_counts.append('count_if(' ~ column ~ ' is null) as ' ~ column) -%}
    {%- do stack_arguments.append("'" ~ column ~ "', " ~ column) -%}
{%- endfor %}

with

null_counts as (

    select
        {{ null_counts | join(',\n        ') }}

    from {{ model }}

),

per_column as (

    select
        stack(
            {{ column_names | length }},
            {{ stack_arguments | join(',\n            ') }}
        ) as (column_name, null_rows)

    from null_counts

)

select * from per_column
where null_rows > 0

{% endtest %}
