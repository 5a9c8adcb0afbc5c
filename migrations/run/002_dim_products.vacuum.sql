-- stackc: model marts.dim_products (table)
-- source: models/marts/dim_products.sql
-- Runs outside a transaction, and only after a step that changed rows.

vacuum (analyze) marts.dim_products;
