-- Order lines. discount is the total discount on the line, so it may not exceed the line's gross amount.
-- loaded_at is set by the loader and drives the incremental build of marts.fact_sales.
create table if not exists raw.sales (
    sale_id     bigint        primary key,
    order_id    bigint        not null references raw.orders (order_id),
    product_id  bigint        not null references raw.products (product_id),
    sku         text          not null,
    quantity    integer       not null check (quantity > 0),
    unit_price  numeric(12,2) not null check (unit_price >= 0),
    discount    numeric(12,2) not null default 0 check (discount >= 0),
    sold_at     timestamptz   not null check (sold_at >= timestamptz '2000-01-01 00:00:00+00' and sold_at < timestamptz '2101-01-01 00:00:00+00'),
    loaded_at   timestamptz   not null default now(),
    constraint sales_discount_within_line_check check (discount <= quantity * unit_price)
);

create index if not exists sales_order_id_idx on raw.sales (order_id);
create index if not exists sales_product_id_idx on raw.sales (product_id);
create index if not exists sales_sold_at_idx on raw.sales (sold_at);
create index if not exists sales_loaded_at_idx on raw.sales (loaded_at);
