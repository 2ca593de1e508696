{#- The payment plan of an installments count (SPEC): 'single' for 0 and 1,
    'installments' for 2..var('max_installments'), 'unknown' otherwise
    (null, negative, the 999 sentinel, above the cap). -#}
{% macro installment_plan_type(installments) -%}
    case
        when {{ installments }} in (0, 1) then 'single'
        when {{ installments }} between 2 and {{ var('max_installments') }} then 'installments'
        else 'unknown'
    end
{%- endmacro %}
