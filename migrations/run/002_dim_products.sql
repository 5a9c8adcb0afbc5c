-- stackc: model marts.dim_products (table)
-- source: models/marts/dim_products.sql
-- `stackc apply` runs this step in one transaction (with psql: `psql -1 -f`).

truncate table marts.dim_products;

insert into marts.dim_products
-- Product dimension for BI: catalogue attributes with category names and departments from the seed.


select
    p.product_id,
    p.sku,
    p.product_name,
    p.category_code,
    coalesce(pc.category_name, 'Uncategorised') as category,
    coalesce(pc.department, 'Uncategorised') as department,
    p.unit_price,
    p.is_active
from staging.stg_products as p
left join seeds.product_categories as pc
    on pc.category_code = p.category_code
;
