select
    customer_id,
    lower(email) as email
from {{ source('raw', 'customers') }}
