{{ config(materialized='table') }}
-- Fails when the table is loaded: one row has n = 0.
select id, 10 / n as q from {{ ref('nums') }}
