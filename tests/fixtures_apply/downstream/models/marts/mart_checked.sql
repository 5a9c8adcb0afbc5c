select id from {{ ref('stg_checked') }}
