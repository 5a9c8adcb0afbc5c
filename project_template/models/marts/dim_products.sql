-- Product dimension for BI: catalogue attributes with category names and departments from the seed.
{{
    config(
        indexes=[
            {'columns': ['product_id'], 'unique': True},
            {'columns': ['category']}
        ]
    )
}}

select
    p.product_id,
    p.sku,
    p.product_name,
    p.category_code,
    coalesce(pc.category_name, 'Uncategorised') as category,
    coalesce(pc.department, 'Uncategorised') as department,
    p.unit_price,
    p.is_active
from {{ ref('stg_products') }} as p
left join {{ ref('product_categories') }} as pc
    on pc.category_code = p.category_code
