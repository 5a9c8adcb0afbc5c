select count(*) as n from {{ ref('daily') }}
