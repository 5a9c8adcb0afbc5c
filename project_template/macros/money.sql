{#
  Money arithmetic in one place, so every model rounds the same way.
  Arguments are column names or parenthesised SQL expressions, passed as strings as in dbt:
  {{ line_amount('s.quantity', 's.unit_price', 's.discount') }}
#}

{# An amount in the shop currency: numeric rounded to cents. #}
{% macro to_money(expression) -%}
({{ expression }})::numeric(14, 2)
{%- endmacro %}

{# Net amount of an order line; discount is the total discount on the line. #}
{% macro line_amount(quantity, unit_price, discount='0') -%}
({{ quantity }} * {{ unit_price }} - {{ discount }})::numeric(14, 2)
{%- endmacro %}
