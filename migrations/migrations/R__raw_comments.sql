-- Documentation of the raw layer, visible in psql (\d+) and pgAdmin. Safe to re-run.
comment on schema raw is 'Data as exported by the shop backend, guarded by constraints. Loaded by the export job, never written by stackc models.';

comment on table raw.products is 'Product catalogue, one row per product.';
comment on column raw.products.sku is 'Stock keeping unit, unique across the catalogue.';
comment on column raw.products.category is 'Category code, mapped to a name and department by seeds.product_categories.';
comment on column raw.products.unit_price is 'Current list price in the shop currency.';

comment on table raw.customers is 'Customer accounts, one row per customer.';
comment on column raw.customers.email is 'Email as typed at signup; staging lower-cases and trims it.';
comment on column raw.customers.country_code is 'ISO 3166-1 alpha-2 country code, upper case; null when unknown.';

comment on table raw.orders is 'Order headers, one row per order.';
comment on column raw.orders.status is 'One of placed, shipped, delivered, cancelled, returned.';
comment on column raw.orders.updated_at is 'Last change of the order, including status changes.';

comment on table raw.sales is 'Order lines, one row per product in an order.';
comment on column raw.sales.unit_price is 'Price per unit at the time of sale.';
comment on column raw.sales.discount is 'Total discount on the line, not per unit.';
comment on column raw.sales.sold_at is 'When the line was sold.';
comment on column raw.sales.loaded_at is 'When the loader wrote the row; drives the incremental build of marts.fact_sales.';
