{{ config(materialized='table') }}
select id, amount from {{ ref('stg_payments') }}
