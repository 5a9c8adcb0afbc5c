select id, n from {{ ref('nums') }}
