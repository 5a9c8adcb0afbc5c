create table public.connection as
select ssl, version from pg_stat_ssl where pid = pg_backend_pid();
