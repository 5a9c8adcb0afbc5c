create schema if not exists raw;
create table raw.items (id integer primary key);
insert into raw.items (id) select generate_series(1, 10);
