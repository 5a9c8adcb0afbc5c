select id, qty * 2 as double_qty from {{ ref('stg_ok') }}
