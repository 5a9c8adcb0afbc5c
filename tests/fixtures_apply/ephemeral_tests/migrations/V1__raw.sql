create schema if not exists raw;
create table if not exists raw.customers (id integer, email text);
create table if not exists raw.orders (id integer, customer_id integer, status text);
