-- stackc: model marts.fact_sales (incremental)
-- source: models/marts/fact_sales.sql
-- Runs outside a transaction, and only after a step that changed rows.

vacuum (analyze) marts.fact_sales;
