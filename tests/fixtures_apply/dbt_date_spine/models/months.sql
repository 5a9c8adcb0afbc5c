{{ dbt.date_spine(datepart="month", start_date="cast('2023-11-15' as date)", end_date="cast('2024-04-01' as date)") }}
