create table raw.after (id int);
