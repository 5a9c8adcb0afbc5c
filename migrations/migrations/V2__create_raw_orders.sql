-- Order headers; status follows the order through fulfilment, updated_at moves with it.
create table if not exists raw.orders (
    order_id     bigint      primary key,
    customer_id  bigint      not null references raw.customers (customer_id),
    order_date   date        not null check (order_date between date '2000-01-01' and date '2100-12-31'),
    status       text        not null check (status in ('placed', 'shipped', 'delivered', 'cancelled', 'returned')),
    channel      text,
    updated_at   timestamptz not null default now()
);

create index if not exists orders_customer_id_idx on raw.orders (customer_id);
create index if not exists orders_order_date_idx on raw.orders (order_date);
create index if not exists orders_status_idx on raw.orders (status);
