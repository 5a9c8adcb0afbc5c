{{ config(materialized='ephemeral') }}
with o as (select id, customer_id, status from {{ source('raw', 'orders') }})
select id as order_id, customer_id, status from o
