create schema if not exists raw;
create table raw.orders (order_id integer primary key, amount numeric not null, placed_at timestamptz not null);
