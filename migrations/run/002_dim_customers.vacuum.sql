-- stackc: model marts.dim_customers (table)
-- source: models/marts/dim_customers.sql
-- Runs outside a transaction, and only after a step that changed rows.

vacuum (analyze) marts.dim_customers;
