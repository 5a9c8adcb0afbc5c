-- Three seconds of sleep while its table is rebuilt.
select i.id
from {{ source('raw', 'items') }} as i
cross join (select pg_sleep(3)) as s
