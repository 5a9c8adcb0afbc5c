create schema if not exists raw;
create table if not exists raw.events (id integer primary key, kind text not null);
