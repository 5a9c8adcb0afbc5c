-- Orders, with the status spelled as the seed spells it.
select
    o.order_id,
    o.customer_id,
    o.amount,
    s.status,
    o.ordered_at
from {{ source('raw', 'orders') }} as o
join {{ ref('order_statuses') }} as s on s.status = lower(o.status)
