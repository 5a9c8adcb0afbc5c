create schema if not exists raw;
create table raw.items (
    id  integer primary key,
    qty integer not null
);
insert into raw.items (id, qty) values (1, 5), (2, 7);
