{{ config(materialized='view') }}
select kind, count(*) as events
from {{ ref('events_wide') }}
group by kind
