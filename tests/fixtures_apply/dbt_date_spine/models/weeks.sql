{% set weeks = dbt.get_intervals_between("'2024-01-01'::date", "'2024-03-31'::date", 'week') %}
select {{ weeks }} as week_count
