-- Product catalogue, cleaned: one row per product, category code normalised for the seed lookup.
select
    product_id,
    upper(trim(sku)) as sku,
    trim(name) as product_name,
    upper(trim(category)) as category_code,
    unit_price,
    is_active,
    created_at
from {{ source('raw', 'products') }}
