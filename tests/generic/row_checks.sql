{#- Row-level rules of one model, checked in one scan: the columns in
    `not_null` are set on every row, and every SQL boolean in `expressions` is
    true on every row (a null result fails: write `x is null or ...` for a
    nullable column). One test per model instead of one per column and rule:
    each dbt test is a Spark job of its own (~0.3 s even on a 1-row table), and
    a model has up to a dozen such rules. Returns one row per broken rule, with
    how many rows break it. -#}
{% test row_checks(model, not_null=[], expressions=[]) %}

{%- set checks = [] -%}
{%- for column in not_null -%}
    {%- do checks.append(['not_null(' ~ column ~ ')', column ~ ' is null']) -%}
{%- endfor -%}
{%- for expression in expressions -%}
    {%- do checks.append([expression, 'not coalesce(' ~ expression ~ ', false)']) -%}
{%- endfor -%}
{%- set failing_counts = [] -%}
{%- set stack_arguments = [] -%}
{%- for check in checks -%}
    {%- do failing_counts.append('count_if(' ~ check[1] ~ ') as check_' ~ loop.index) -%}
    {%- do stack_arguments.append(
        "'" ~ check[0] | replace('\\', '\\\\') | replace("'", "\\'") ~ "', check_" ~ loop.index
    ) -%}
{%- endfor %}

with

failing_counts as (

    select
        {{ failing_counts | join(',\n        ') }}

    from {{ model }}

),

per_check as (

    select
        stack(
            {{ checks | length }},
            {{ stack_arguments | join(',\n            ') }}
        ) as (failed_check, failing_rows)

    from failing_counts

)

select * from per_check
where failing_rows > 0

{% endtest %}
