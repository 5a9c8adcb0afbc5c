create schema if not exists raw;

create table if not exists raw.customers (
    customer_id bigint primary key,
    email       text   not null
);

create table if not exists raw.orders (
    order_id    bigint  primary key,
    customer_id bigint  not null references raw.customers (customer_id),
    amount      numeric not null check (amount >= 0),
    status      text    not null,
    ordered_at  timestamptz not null
);
