create schema if not exists raw;
create table raw.ok (id int primary key);
