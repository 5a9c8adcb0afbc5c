{{ config(materialized='ephemeral') }}
select id as customer_id, email from {{ source('raw', 'customers') }}
