-- Sales fact for BI at order-line grain, built incrementally; lines of cancelled orders are left out.
-- Incremental runs re-read the last `lookback_days` of loads (by loaded_at) so that late-arriving
-- lines are merged rather than lost; stackc writes that filter from event_time and lookback.
{{
    config(
        materialized='incremental',
        unique_key='sale_id',
        incremental_strategy='merge',
        event_time='loaded_at',
        lookback=var('lookback_days') ~ ' days',
        indexes=[
            {'columns': ['sale_id'], 'unique': True},
            {'columns': ['loaded_at']},
            {'columns': ['sold_date']},
            {'columns': ['product_id']},
            {'columns': ['customer_id']}
        ]
    )
}}

with orders as (

    select
        order_id,
        customer_id,
        order_date,
        status,
        channel
    from {{ ref('stg_orders') }}
    where status <> 'cancelled'

)

select
    s.sale_id,
    s.order_id,
    o.customer_id,
    s.product_id,
    s.sku,
    o.order_date,
    o.status as order_status,
    o.channel,
    s.sold_at,
    s.sold_date,
    s.quantity,
    s.unit_price,
    s.gross_amount,
    s.discount_amount,
    s.line_amount as net_amount,
    s.loaded_at
from {{ ref('stg_sales') }} as s
inner join orders as o
    on o.order_id = s.order_id
