-- A leap February: 2024-01-01 up to, not including, 2024-03-01.
{{ dbt.date_spine('day', "cast('2024-01-01' as date)", "cast('2024-03-01' as date)") }}
