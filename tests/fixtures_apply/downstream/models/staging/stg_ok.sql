select id, qty from {{ source('raw', 'items') }}
