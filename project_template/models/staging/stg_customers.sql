-- Customers, cleaned: normalised email and country code, empty names turned into nulls.
select
    customer_id,
    lower(trim(email)) as email,
    nullif(trim(full_name), '') as full_name,
    upper(trim(country_code)) as country_code,
    signup_date,
    created_at
from {{ source('raw', 'customers') }}
