-- Deliberately slow (one second), so a reader can query while it is rebuilt.
select e.id, e.kind
from {{ source('raw', 'events') }} as e
cross join (select pg_sleep(1)) as slow
