-- An order with a negative amount slipped through the raw constraints.
select order_id from {{ ref('fct_orders') }} where amount < 0
