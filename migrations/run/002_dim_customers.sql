-- stackc: model marts.dim_customers (table)
-- source: models/marts/dim_customers.sql
-- `stackc apply` runs this step in one transaction (with psql: `psql -1 -f`).

truncate table marts.dim_customers;

insert into marts.dim_customers
-- Customer dimension for BI: one row per customer with first and last order dates and order counts.


with order_history as (

    select
        customer_id,
        min(order_date) filter (where status <> 'cancelled') as first_order_date,
        max(order_date) filter (where status <> 'cancelled') as last_order_date,
        count(*) filter (where status <> 'cancelled') as lifetime_orders,
        count(*) filter (where status = 'cancelled') as cancelled_orders
    from staging.stg_orders
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
from staging.stg_customers as c
left join order_history as oh
    on oh.customer_id = c.customer_id
;
