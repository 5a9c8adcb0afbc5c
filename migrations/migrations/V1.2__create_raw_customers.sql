-- Customers, one row per account.
create table if not exists raw.customers (
    customer_id   bigint      primary key,
    email         text        not null unique,
    full_name     text,
    country_code  char(2)     check (country_code ~ '^[A-Z]{2}$'),
    signup_date   date        not null check (signup_date between date '2000-01-01' and date '2100-12-31'),
    created_at    timestamptz not null default now()
);
