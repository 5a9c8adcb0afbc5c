-- stackc: seed seeds.product_categories (table)
-- source: seeds/product_categories.csv
-- `stackc apply` runs this step in one transaction (with psql: `psql -1 -f`).

truncate table seeds.product_categories;

insert into seeds.product_categories (category_code, category_name, department) values
    ('APPL'::text, 'Apparel'::text, 'Fashion'::text),
    ('BOOK'::text, 'Books'::text, 'Media'::text),
    ('ELEC'::text, 'Electronics'::text, 'Technology'::text),
    ('GROC'::text, 'Grocery'::text, 'Food'::text),
    ('HOME'::text, 'Home & Kitchen'::text, 'Home'::text),
    ('TOYS'::text, 'Toys & Games'::text, 'Kids'::text);

-- Marks what was loaded, so an apply skips the load while the CSV is unchanged.
comment on table seeds.product_categories is 'stackc seed seeds/product_categories.csv sha256:e20d07331c3e1841b6057ef7f5c4fcbb67bdc3da5cef0732a1d9a7d14b980f50';
