-- stackc: model marts.fact_sales (incremental)
-- source: models/marts/fact_sales.sql
-- Later loads: the model with is_incremental() true, strategy merge.
-- `stackc apply` runs this step in one transaction (with psql: `psql -1 -f`).

-- Written by stackc from config(event_time, lookback): re-read the last 3 days
-- of loaded_at before the newest row already loaded.
select set_config('stackc.since_fact_sales', coalesce(max(loaded_at) - interval '3 days', '-infinity')::text, false)
from marts.fact_sales;

merge into marts.fact_sales as target
using (
select *
from (
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
) as stackc_source
where loaded_at > current_setting('stackc.since_fact_sales')::timestamptz
) as source
on target.sale_id = source.sale_id
when matched and (target.order_id, target.customer_id, target.product_id, target.sku, target.order_date, target.order_status, target.channel, target.sold_at, target.sold_date, target.quantity, target.unit_price, target.gross_amount, target.discount_amount, target.net_amount, target.loaded_at) is distinct from (source.order_id, source.customer_id, source.product_id, source.sku, source.order_date, source.order_status, source.channel, source.sold_at, source.sold_date, source.quantity, source.unit_price, source.gross_amount, source.discount_amount, source.net_amount, source.loaded_at) then update set
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
