-- stackc: model marts.daily_sales_summary (table)
-- source: models/marts/daily_sales_summary.sql
-- `stackc apply` runs this step in one transaction (with psql: `psql -1 -f`).

truncate table marts.daily_sales_summary;

insert into marts.daily_sales_summary
-- Daily sales by product category for BI dashboards: orders, customers, units and revenue per day.


select
    f.sold_date,
    p.category,
    p.department,
    count(distinct f.order_id) as order_count,
    count(distinct f.customer_id) as customer_count,
    sum(f.quantity) as units_sold,
    sum(f.gross_amount) as gross_revenue,
    sum(f.discount_amount) as discount_amount,
    sum(f.net_amount) as net_revenue
from marts.fact_sales as f
inner join marts.dim_products as p
    on p.product_id = f.product_id
group by
    f.sold_date,
    p.category,
    p.department
;
