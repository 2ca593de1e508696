{#- The name a mart shows for a merchant (SPEC): 'Unknown merchant' for the
    null-id group, else the resolved name from int_merchants_resolved, else
    the id itself (an id absent from merchants.csv). -#}
{% macro merchant_display_name(merchant_id, merchant_name) -%}
    case
        when {{ merchant_id }} is null then 'Unknown merchant'
        else coalesce({{ merchant_name }}, {{ merchant_id }})
    end
{%- endmacro %}
