select id, boom from {{ ref('stg_bad') }}
