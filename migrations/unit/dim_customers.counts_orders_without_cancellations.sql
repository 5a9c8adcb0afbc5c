-- stackc: unit test counts_orders_without_cancellations of model marts.dim_customers
-- source: models/marts/_marts.yml
-- Run in a transaction that is rolled back: the inputs are temporary tables
-- shaped like the real relations, and the model reads them instead.

create temporary table stackc_unit_ref_stg_customers (like staging.stg_customers);
insert into stackc_unit_ref_stg_customers (country_code, customer_id, email, signup_date) values ('DE', 1, 'ann@example.com', '2024-01-02');
insert into stackc_unit_ref_stg_customers (country_code, customer_id, email, signup_date) values ('FR', 2, 'bob@example.com', '2024-03-05');
create temporary table stackc_unit_ref_stg_orders (like staging.stg_orders);
insert into stackc_unit_ref_stg_orders (customer_id, order_date, order_id, status) values (1, '2024-02-01', 10, 'delivered');
insert into stackc_unit_ref_stg_orders (customer_id, order_date, order_id, status) values (1, '2024-02-20', 11, 'shipped');
insert into stackc_unit_ref_stg_orders (customer_id, order_date, order_id, status) values (1, '2024-03-15', 12, 'cancelled');

create temporary table stackc_unit_actual as
-- Customer dimension for BI: one row per customer with first and last order dates and order counts.


with order_history as (

    select
        customer_id,
        min(order_date) filter (where status <> 'cancelled') as first_order_date,
        max(order_date) filter (where status <> 'cancelled') as last_order_date,
        count(*) filter (where status <> 'cancelled') as lifetime_orders,
        count(*) filter (where status = 'cancelled') as cancelled_orders
    from pg_temp.stackc_unit_ref_stg_orders
    group by customer_id

)

select
    c.customer_id,
    c.email,
    c.full_name,
    c.country_code,
    c.signup_date,
    oh.first_order_date,
    oh.last_order_date,
    coalesce(oh.lifetime_orders, 0) as lifetime_orders,
    coalesce(oh.cancelled_orders, 0) as cancelled_orders
from pg_temp.stackc_unit_ref_stg_customers as c
left join order_history as oh
    on oh.customer_id = c.customer_id
;

create temporary table stackc_unit_expected (like stackc_unit_actual);
insert into stackc_unit_expected (cancelled_orders, customer_id, first_order_date, last_order_date, lifetime_orders) values (1, 1, '2024-02-01', '2024-02-20', 2);
insert into stackc_unit_expected (cancelled_orders, customer_id, first_order_date, last_order_date, lifetime_orders) values (0, 2, null, null, 0);

-- stackc: check
select 'missing' as stackc_diff, cancelled_orders, customer_id, first_order_date, last_order_date, lifetime_orders
from (select cancelled_orders, customer_id, first_order_date, last_order_date, lifetime_orders from stackc_unit_expected except all select cancelled_orders, customer_id, first_order_date, last_order_date, lifetime_orders from stackc_unit_actual) as missing
union all
select 'unexpected' as stackc_diff, cancelled_orders, customer_id, first_order_date, last_order_date, lifetime_orders
from (select cancelled_orders, customer_id, first_order_date, last_order_date, lifetime_orders from stackc_unit_actual except all select cancelled_orders, customer_id, first_order_date, last_order_date, lifetime_orders from stackc_unit_expected) as unexpected
