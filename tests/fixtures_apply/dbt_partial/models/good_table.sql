{{ config(materialized='table') }}
select id, n * 2 as d from {{ ref('good_view') }}
