-- Product catalogue, one row per product as exported by the shop backend.
create table if not exists raw.products (
    product_id  bigint        primary key,
    sku         text          not null unique check (btrim(sku) <> ''),
    name        text          not null,
    category    text          not null,
    unit_price  numeric(12,2) not null check (unit_price >= 0),
    is_active   boolean       not null default true,
    created_at  timestamptz   not null default now()
);
