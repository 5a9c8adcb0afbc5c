{{ config(materialized='ephemeral') }}
select order_id, placed_at::date as day from {{ ref('stg_orders') }}
