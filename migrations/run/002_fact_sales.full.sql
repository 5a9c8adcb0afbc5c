-- stackc: model marts.fact_sales (incremental)
-- source: models/marts/fact_sales.sql
-- The first load, and `--full-refresh`: the model with is_incremental() false.
-- `stackc apply` runs this step in one transaction (with psql: `psql -1 -f`).

truncate table marts.fact_sales;

insert into marts.fact_sales (sale_id, order_id, customer_id, product_id, sku, order_date, order_status, channel, sold_at, sold_date, quantity, unit_price, gross_amount, discount_amount, net_amount, loaded_at)
-- Sales fact for BI at order-line grain, built incrementally; lines of cancelled orders are left out.
-- Incremental runs re-read the last `lookback_days` of loads (by loaded_at) so that late-arriving
-- lines are merged rather than lost; stackc writes that filter from event_time and lookback.


with orders as (

    select
        order_id,
        customer_id,
        order_date,
        status,
        channel
    from staging.stg_orders
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
from staging.stg_sales as s
inner join orders as o
    on o.order_id = s.order_id
;
