-- stackc: model marts.daily_sales_summary (table)
-- source: models/marts/daily_sales_summary.sql
-- Runs outside a transaction, and only after a step that changed rows.

vacuum (analyze) marts.daily_sales_summary;
