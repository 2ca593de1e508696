{#- Reconciliation of a pre-aggregation, per group: for every value of
    `group_by` (columns of both relations), each model aggregate equals its
    compare aggregate, e.g. sum(no_of_sales) = count(*) per purchase_month.
    `measures` is a list of {name, model, compare} SQL aggregate expressions.
    Returns one row per group that differs (or exists on one side only). -#}
{% test totals_match_by_group(model, compare_model, group_by, measures) %}

{%- set model_measures, compare_measures, outputs, differs = [], [], [], [] -%}
{%- for measure in measures -%}
    {%- do model_measures.append(measure.model ~ ' as ' ~ measure.name) -%}
    {%- do compare_measures.append(measure.compare ~ ' as ' ~ measure.name) -%}
    {%- do outputs.append('model_totals.' ~ measure.name ~ ' as model_' ~ measure.name) -%}
    {%- do outputs.append('compare_totals.' ~ measure.name ~ ' as compare_' ~ measure.name) -%}
    {%- do differs.append(
        'not (model_totals.' ~ measure.name ~ ' <=> compare_totals.' ~ measure.name ~ ')'
    ) -%}
{%- endfor -%}
{%- set keys, matches = [], [] -%}
{%- for column in group_by -%}
    {%- do keys.append(
        'coalesce(model_totals.' ~ column ~ ', compare_totals.' ~ column ~ ') as ' ~ column
    ) -%}
    {%- do matches.append('model_totals.' ~ column ~ ' <=> compare_totals.' ~ column) -%}
{%- endfor %}

with

model_totals as (

    select
        {{ group_by | join(', ') }},
        {{ model_measures | join(',\n        ') }}

    from {{ model }}
    group by {{ group_by | join(', ') }}

),

compare_totals as (

    select
        {{ group_by | join(', ') }},
        {{ compare_measures | join(',\n        ') }}

    from {{ compare_model }}
    group by {{ group_by | join(', ') }}

)

select
    {{ (keys + outputs) | join(',\n    ') }}

from model_totals
full outer join compare_totals
    on {{ matches | join(' and ') }}
where {{ differs | join(' or ') }}

{% endtest %}
