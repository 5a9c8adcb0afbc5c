-- stackc: model marts.fact_sales (incremental)
-- source: models/marts/fact_sales.sql
-- Later loads: the model with is_incremental() true, strategy merge.
-- `stackc apply` runs this step in one transaction (with psql: `psql -1 -f`).

merge into marts.fact_sales as target
using (
-- Sales fact for BI at order-line grain, built incrementally; lines of cancelled orders are left out.


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
-- Re-read the last few days of loads too, so that late-arriving lines are merged rather than lost.
where s.loaded_at > (
    select coalesce(max(loaded_at), '1900-01-01'::timestamptz) - interval '3 days'
    from marts.fact_sales
)
) as source
on target.sale_id = source.sale_id
when matched then update set
    order_id = source.order_id,
    customer_id = source.customer_id,
    product_id = source.product_id,
    sku = source.sku,
    order_date = source.order_date,
    order_status = source.order_status,
    channel = source.channel,
    sold_at = source.sold_at,
    sold_date = source.sold_date,
    quantity = source.quantity,
    unit_price = source.unit_price,
    gross_amount = source.gross_amount,
    discount_amount = source.discount_amount,
    net_amount = source.net_amount,
    loaded_at = source.loaded_at
when not matched then insert (sale_id, order_id, customer_id, product_id, sku, order_date, order_status, channel, sold_at, sold_date, quantity, unit_price, gross_amount, discount_amount, net_amount, loaded_at)
    values (source.sale_id, source.order_id, source.customer_id, source.product_id, source.sku, source.order_date, source.order_status, source.channel, source.sold_at, source.sold_date, source.quantity, source.unit_price, source.gross_amount, source.discount_amount, source.net_amount, source.loaded_at);
