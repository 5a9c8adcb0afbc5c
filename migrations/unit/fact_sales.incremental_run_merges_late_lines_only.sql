-- stackc: unit test incremental_run_merges_late_lines_only of model marts.fact_sales
-- source: models/marts/_marts.yml
-- Run in a transaction that is rolled back: the inputs are temporary tables
-- shaped like the real relations, and the model reads them instead.

create temporary table stackc_unit_ref_stg_orders (like staging.stg_orders);
insert into stackc_unit_ref_stg_orders (channel, customer_id, order_date, order_id, status) values ('web', 1, '2024-05-09', 10, 'delivered');
insert into stackc_unit_ref_stg_orders (channel, customer_id, order_date, order_id, status) values ('web', 2, '2024-05-09', 11, 'cancelled');
create temporary table stackc_unit_ref_stg_sales (like staging.stg_sales);
insert into stackc_unit_ref_stg_sales (loaded_at, order_id, product_id, quantity, sale_id, sku, sold_at, sold_date, unit_price) values ('2024-05-11 09:00:00+00', 10, 7, 1, 2, 'SKU-7', '2024-05-09 12:00:00+00', '2024-05-09', 5.0);
insert into stackc_unit_ref_stg_sales (loaded_at, order_id, product_id, quantity, sale_id, sku, sold_at, sold_date, unit_price) values ('2024-05-01 13:00:00+00', 10, 7, 1, 3, 'SKU-7', '2024-05-01 12:00:00+00', '2024-05-01', 5.0);
insert into stackc_unit_ref_stg_sales (loaded_at, order_id, product_id, quantity, sale_id, sku, sold_at, sold_date, unit_price) values ('2024-05-11 09:00:00+00', 11, 7, 1, 4, 'SKU-7', '2024-05-09 12:00:00+00', '2024-05-09', 5.0);
create temporary table stackc_unit_this (like marts.fact_sales);
insert into stackc_unit_this (loaded_at, order_id, sale_id) values ('2024-05-10 08:00:00+00', 10, 1);

create temporary table stackc_unit_actual as
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
    from pg_temp.stackc_unit_ref_stg_orders
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
from pg_temp.stackc_unit_ref_stg_sales as s
inner join orders as o
    on o.order_id = s.order_id
) as stackc_source
where loaded_at > (select coalesce(max(loaded_at) - interval '3 days', '-infinity') from pg_temp.stackc_unit_this)
;

create temporary table stackc_unit_expected (like stackc_unit_actual);
insert into stackc_unit_expected (customer_id, loaded_at, order_id, order_status, sale_id) values (1, '2024-05-11 09:00:00+00', 10, 'delivered', 2);

-- stackc: check
select 'missing' as stackc_diff, customer_id, loaded_at, order_id, order_status, sale_id
from (select customer_id, loaded_at, order_id, order_status, sale_id from stackc_unit_expected except all select customer_id, loaded_at, order_id, order_status, sale_id from stackc_unit_actual) as missing
union all
select 'unexpected' as stackc_diff, customer_id, loaded_at, order_id, order_status, sale_id
from (select customer_id, loaded_at, order_id, order_status, sale_id from stackc_unit_actual except all select customer_id, loaded_at, order_id, order_status, sale_id from stackc_unit_expected) as unexpected
