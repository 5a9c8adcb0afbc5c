{{ config(materialized='table') }}
select id, q from {{ ref('bad_table') }}
