-- Sales dated after today (UTC) point to a clock or time zone problem upstream; every row returned is a failure.
select
    sale_id,
    order_id,
    sold_at,
    sold_date,
    loaded_at
from {{ ref('fact_sales') }}
where sold_date > (now() at time zone 'UTC')::date
