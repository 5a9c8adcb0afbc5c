-- Two good statements, then one that fails: nothing of this file may remain.
create table raw.first (id int);
create table raw.second (id int);

insert into raw.first (id)
select id from raw.does_not_exist;
