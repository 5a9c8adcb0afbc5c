{{ config(materialized='incremental', unique_key='order_id') }}
select o.order_id, o.amount, d.day, r.name as region
from {{ ref('stg_orders') }} as o
join {{ ref('order_days') }} as d on d.order_id = o.order_id
cross join {{ ref('regions') }} as r
