select id from {{ ref('bad_view') }}
