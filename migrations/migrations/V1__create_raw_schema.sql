-- Raw layer: tables loaded by the shop backend's export, guarded by constraints.
create schema if not exists raw;
