-- Order lines, cleaned: amounts computed once here, sale date taken in UTC so it does not depend on the session time zone.
select
    sale_id,
    order_id,
    product_id,
    upper(trim(sku)) as sku,
    quantity,
    unit_price,
    discount as discount_amount,
    {{ to_money('quantity * unit_price') }} as gross_amount,
    {{ line_amount('quantity', 'unit_price', 'discount') }} as line_amount,
    sold_at,
    (sold_at at time zone 'UTC')::date as sold_date,
    loaded_at
from {{ source('raw', 'sales') }}
