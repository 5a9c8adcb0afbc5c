-- Daily sales by product category for BI dashboards: orders, customers, units and revenue per day.
{{
    config(
        indexes=[
            {'columns': ['sold_date']},
            {'columns': ['category']}
        ]
    )
}}

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
from {{ ref('fact_sales') }} as f
inner join {{ ref('dim_products') }} as p
    on p.product_id = f.product_id
group by
    f.sold_date,
    p.category,
    p.department
