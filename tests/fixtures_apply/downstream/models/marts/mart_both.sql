select o.id
from {{ ref('stg_ok') }} as o
inner join {{ ref('stg_bad') }} as b on b.id = o.id
