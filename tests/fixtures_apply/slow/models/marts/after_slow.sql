select id from {{ ref('slow') }}
