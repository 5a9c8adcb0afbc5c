-- Fails when the view is created: the function does not exist.
select id, no_such_function(n) as m from {{ ref('nums') }}
