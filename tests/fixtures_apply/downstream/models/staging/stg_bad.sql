-- Divides by zero, but only when it reads rows: at run time.
select
    id,
    qty / (id - id) as boom
from {{ source('raw', 'items') }}
