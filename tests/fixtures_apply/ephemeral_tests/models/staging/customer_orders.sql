{{ config(materialized='view') }}
-- The query's own `with` comes after comments: the ephemeral models'
/* CTEs /* nested */ join it there */
with o as (select * from {{ ref('stg_orders') }})
select o.order_id, c.email from o join {{ ref('stg_customers') }} c using (customer_id)
