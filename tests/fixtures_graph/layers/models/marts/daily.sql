{{ config(materialized='materialized_view') }}
select day, sum(amount) as amount from {{ ref('fct_orders') }} group by day
