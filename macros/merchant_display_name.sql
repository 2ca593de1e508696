{#
    The name a mart shows for a merchant (SPEC cleaning rules): 'Unknown merchant'
    for the null-id group, else the resolved name from cln_merchants, else the id
    itself (an id absent from merchants.csv). Marts join cln_merchants late, on
    their small aggregates, so names never go stale in month partitions that an
    incremental run leaves alone.
#}
{% macro merchant_display_name(merchant_id, merchant_name) -%}
    case
        when {{ merchant_id }} is null then 'Unknown merchant'
        else coalesce({{ merchant_name }}, {{ merchant_id }})
    end
{%- endmacro %}
