-- Order headers, cleaned: channel normalised, a missing channel reported as 'unknown'.
select
    order_id,
    customer_id,
    order_date,
    status,
    coalesce(nullif(lower(trim(channel)), ''), 'unknown') as channel,
    updated_at
from {{ source('raw', 'orders') }}
