-- stackc: seed seeds.product_categories (table)
-- source: seeds/product_categories.csv
-- Runs outside a transaction, and only after a step that changed rows.

vacuum (analyze) seeds.product_categories;
