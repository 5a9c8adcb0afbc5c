-- Realistic raw data for project_template/: raw.products, raw.customers, raw.orders, raw.sales.
--
-- A psql script, driven by psql variables (see docs/data-generator.md for the full story):
--
--   initial load (the raw tables must be empty):
--     psql -v rows=1000 -f scripts/generate_data.sql
--   increment (appends; run it as often as you like, keys always continue after the current maximum):
--     psql -v mode=increment -v new_rows=100 -v late_rows=10 -v stale_rows=1 -f scripts/generate_data.sql
--
-- Variables (all optional):
--   mode            initial | increment                          (initial)
--   seed            integer; same seed and anchor -> same rows   (42)
--   anchor          the generator's "now", a timestamptz literal  (now())
--   initial mode:
--     rows          sales lines                                  (1000)
--     products      products                                     (200)
--     customers     customers                                    (greatest(50, rows / 20))
--     days          sold_at spread over the last `days` days     (90)
--                   orders follow from the lines: 1 to 8 lines per order, about rows / 4 orders
--   increment mode:
--     new_rows      lines sold and loaded now, after every existing line               (100)
--     late_rows     lines sold 1-2 days before the newest sold_at, loaded now           (10)
--     stale_rows    lines whose loaded_at is older than the lookback window             (1)
--     lookback_rows lines whose loaded_at is inside the lookback window but before the
--                   watermark (what only the lookback picks up)                          (0)
--     new_customers customers signing up now                         (greatest(1, new_rows / 100))
--     status_updates orders moved on (placed -> shipped -> delivered), updated_at = now (0)
--     lookback_days must match [vars] lookback_days of the project   (3)
--   analyze         on | off: ANALYZE the raw tables at the end   (on for initial, off for increment)
--
-- Every row satisfies the constraints of project_template/migrations/V*.sql. The whole run is
-- one transaction (do not add psql -1), serialised with other runs by an advisory lock. It
-- prints one summary line.

-- Settings this script changes, restored at the end (it can be run with \i inside a session).
\set gd_saved_on_error_stop :ON_ERROR_STOP
\set gd_saved_quiet :QUIET
\set ON_ERROR_STOP on
\set QUIET on

\if :{?mode}
\else
    \set mode initial
\endif
\if :{?seed}
\else
    \set seed 42
\endif
\if :{?anchor}
\else
    \set anchor now
\endif
\if :{?rows}
\else
    \set rows 1000
\endif
\if :{?products}
\else
    \set products 200
\endif
\if :{?customers}
\else
    \set customers auto
\endif
\if :{?days}
\else
    \set days 90
\endif
\if :{?new_rows}
\else
    \set new_rows 100
\endif
\if :{?late_rows}
\else
    \set late_rows 10
\endif
\if :{?stale_rows}
\else
    \set stale_rows 1
\endif
\if :{?lookback_rows}
\else
    \set lookback_rows 0
\endif
\if :{?new_customers}
\else
    \set new_customers auto
\endif
\if :{?status_updates}
\else
    \set status_updates 0
\endif
\if :{?lookback_days}
\else
    \set lookback_days 3
\endif
\if :{?analyze}
\else
    \set analyze auto
\endif

-- Query results (of the checks below) are not wanted; \echo still prints the summary.
\o /dev/null

begin;

set local client_min_messages = warning;
-- The initial load of 10 million lines sorts and hashes a few million orders.
set local work_mem = '256MB';
set local synchronous_commit = off;
-- Timestamps are computed in UTC; the session time zone must not change them.
set local timezone = 'UTC';

-- One generator at a time per database: the keys are taken from the current maxima.
select pg_advisory_xact_lock(hashtext('stackc scripts/generate_data.sql'));

-- Deterministic pseudo-random numbers: u(k, seed, salt) is uniform in [0, 1) and depends only on
-- its arguments, so the same seed gives the same rows for the same keys. Inlined by the planner.
create function pg_temp.u(k bigint, seed int, salt int) returns double precision
    language sql immutable parallel safe
    as $$ select ((hashint8extended(k, seed::bigint * 1000 + salt) >> 11) & 9007199254740991)::double precision / 9007199254740992.0 $$;

create function pg_temp.fail(msg text) returns void
    language plpgsql
    as $$ begin raise exception 'generate_data: %', msg; end $$;

-- Check the variables, then derive the numbers this run needs.
select pg_temp.fail('mode must be initial or increment, not ' || :'mode')
    where :'mode' not in ('initial', 'increment');
select pg_temp.fail('analyze must be on, off or auto, not ' || :'analyze')
    where :'analyze' not in ('on', 'off', 'auto');
select pg_temp.fail('rows, products, days must be >= 1; new_rows, late_rows, stale_rows, lookback_rows, status_updates >= 0; lookback_days >= 1')
    where :'rows'::int < 1 or :'products'::int < 1 or :'days'::int < 1
       or :'new_rows'::int < 0 or :'late_rows'::int < 0 or :'stale_rows'::int < 0
       or :'lookback_rows'::int < 0 or :'status_updates'::int < 0 or :'lookback_days'::int < 1;

select
    :'mode' = 'initial' as is_initial,
    :'seed'::int as seed,
    (case when :'anchor' = 'now' then date_trunc('second', now()) else :'anchor'::timestamptz end) as anchor_ts,
    (select count(*) from raw.products) as before_products,
    (select count(*) from raw.customers) as before_customers,
    (select count(*) from raw.orders) as before_orders,
    (select count(*) from raw.sales) as before_sales,
    (select coalesce(max(product_id), 0) from raw.products) as p_base,
    (select coalesce(max(customer_id), 0) from raw.customers) as c_base,
    (select coalesce(max(order_id), 0) from raw.orders) as o_base,
    (select coalesce(max(sale_id), 0) from raw.sales) as s_base,
    coalesce((select max(sold_at) from raw.sales)::text, '') as max_sold,
    coalesce((select max(loaded_at) from raw.sales)::text, '') as max_loaded
\gset

\if :is_initial
    select pg_temp.fail('initial mode needs empty raw tables, found '
            || :before_products || ' products, ' || :before_customers || ' customers, '
            || :before_orders || ' orders, ' || :before_sales || ' sales lines; use -v mode=increment')
        where :before_products + :before_customers + :before_orders + :before_sales > 0;
    select
        :'anchor_ts'::timestamptz as t_now,
        :'products'::int as n_products,
        coalesce(nullif(:'customers', 'auto')::int, greatest(50, :'rows'::int / 20)) as n_customers,
        :'rows'::bigint as n_lines,
        -- Orders are placed from `days` days ago up to an hour ago.
        :'anchor_ts'::timestamptz - make_interval(days => :'days'::int) as t_from,
        :'anchor_ts'::timestamptz - interval '1 hour' as t_to,
        0 as n_late, 0 as n_stale, 0 as n_lookback, 0 as n_status,
        -- Not used by an initial load (no late, stale or lookback lines), only kept valid.
        :'anchor_ts' as watermark,
        :'anchor_ts' as max_sold,
        (:'analyze' <> 'off') as do_analyze
    \gset
\else
    select pg_temp.fail('increment mode needs existing data (products, customers, sales); run the initial load first')
        where :before_products = 0 or :before_customers = 0 or :before_sales = 0;
    -- The watermark the next incremental run of fact_sales will use: max(loaded_at) of the
    -- fact if it exists and has rows, else the newest loaded_at in raw.sales.
    select to_regclass('marts.fact_sales') is not null as has_fact \gset
    \if :has_fact
        select coalesce(max(loaded_at)::text, '') as fact_watermark from marts.fact_sales \gset
    \else
        \set fact_watermark ''
    \endif
    select
        -- "now" is after everything already loaded, even with a fixed anchor re-used.
        greatest(:'anchor_ts'::timestamptz, :'max_loaded'::timestamptz + interval '1 second',
                 :'max_sold'::timestamptz + interval '1 second') as t_now,
        0 as n_products,
        coalesce(nullif(:'new_customers', 'auto')::int, greatest(1, :'new_rows'::int / 100)) as n_customers,
        :'new_rows'::bigint as n_lines,
        :'max_sold'::timestamptz as t_from,
        :'late_rows'::int as n_late,
        :'stale_rows'::int as n_stale,
        :'lookback_rows'::int as n_lookback,
        :'status_updates'::int as n_status,
        coalesce(nullif(:'fact_watermark', '')::timestamptz, :'max_loaded'::timestamptz) as watermark,
        (:'analyze' = 'on') as do_analyze
    \gset
    -- New lines are sold between the newest existing sale and now.
    select :'t_now'::timestamptz as t_to \gset
\endif

-- Products ---------------------------------------------------------------------------------
-- Six categories (the codes of seeds/product_categories.csv), some written in lower case or
-- with spaces as a hand-maintained catalogue would be (stg_products trims and upper-cases).
insert into raw.products (product_id, sku, name, category, unit_price, is_active, created_at)
select
    id,
    'SKU-' || lpad(id::text, 6, '0'),
    (array['Classic', 'Deluxe', 'Compact', 'Eco', 'Premium', 'Basic', 'Smart', 'Vintage', 'Ultra', 'Family'])
        [1 + floor(10 * pg_temp.u(id, :seed, 2))::int]
        || ' ' ||
    (array[['T-Shirt', 'Jacket', 'Sneakers', 'Scarf', 'Jeans', 'Cap'],
           ['Novel', 'Cookbook', 'Atlas', 'Biography', 'Comic', 'Dictionary'],
           ['Headphones', 'Charger', 'Monitor', 'Keyboard', 'Speaker', 'Camera'],
           ['Coffee', 'Olive Oil', 'Pasta', 'Tea', 'Chocolate', 'Rice'],
           ['Lamp', 'Pan', 'Towel Set', 'Mug', 'Blender', 'Cushion'],
           ['Puzzle', 'Board Game', 'Plush Bear', 'Kite', 'Robot Kit', 'Yo-yo']])
        [cat][1 + floor(6 * pg_temp.u(id, :seed, 3))::int],
    case
        when pg_temp.u(id, :seed, 4) < 0.10 then lower(code)
        when pg_temp.u(id, :seed, 4) < 0.15 then ' ' || code || ' '
        else code
    end,
    -- Log-uniform list price in the category's range, ending in .99.
    floor(lo * power(hi / lo, pg_temp.u(id, :seed, 5)))::numeric(12, 2) + 0.99,
    pg_temp.u(id, :seed, 6) >= 0.05,
    :'t_now'::timestamptz - make_interval(days => 100 + floor(900 * pg_temp.u(id, :seed, 7))::int,
                                          secs => floor(86400 * pg_temp.u(id, :seed, 8)))
from generate_series(:p_base + 1, :p_base + :n_products) as id,
    lateral (select 1 + floor(6 * pg_temp.u(id, :seed, 1))::int as cat) as c,
    lateral (select (array['APPL', 'BOOK', 'ELEC', 'GROC', 'HOME', 'TOYS'])[cat] as code,
                    (array[10, 5, 20, 1, 8, 5])[cat]::double precision as lo,
                    (array[120, 60, 1500, 30, 400, 150])[cat]::double precision as hi) as r;

-- Customers --------------------------------------------------------------------------------
-- Emails typed at signup: some capitalised or with stray spaces (stg_customers cleans them);
-- the id inside keeps them unique after cleaning. Country codes are ISO 3166-1 alpha-2 in
-- upper case (the raw check), null when unknown; names sometimes missing or empty.
insert into raw.customers (customer_id, email, full_name, country_code, signup_date, created_at)
select
    id,
    case
        when pg_temp.u(id, :seed, 14) < 0.10 then initcap(first) || '.' || initcap(last) || id || '@' || upper(domain)
        when pg_temp.u(id, :seed, 14) < 0.13 then ' ' || first || '.' || last || id || '@' || domain || ' '
        else first || '.' || last || id || '@' || domain
    end,
    case
        when pg_temp.u(id, :seed, 15) < 0.04 then null
        when pg_temp.u(id, :seed, 15) < 0.06 then ''
        else initcap(first) || ' ' || initcap(last)
    end,
    case
        when pg_temp.u(id, :seed, 16) < 0.03 then null
        else (array['US', 'GB', 'DE', 'FR', 'NL', 'ES', 'IT', 'SE', 'PL', 'CA',
                    'AU', 'IE', 'BE', 'AT', 'DK', 'CH', 'NO', 'FI', 'JP', 'BR'])
             [1 + floor(20 * power(pg_temp.u(id, :seed, 17), 1.7))::int]
    end,
    (created at time zone 'UTC')::date,
    created
from generate_series(:c_base + 1, :c_base + :n_customers) as id,
    lateral (select
        (array['anna', 'ben', 'carla', 'david', 'emma', 'felix', 'grace', 'hugo', 'ines', 'jonas',
               'kim', 'leo', 'maria', 'noah', 'olga', 'paul', 'rosa', 'sam', 'tara', 'yusuf'])
            [1 + floor(20 * pg_temp.u(id, :seed, 10))::int] as first,
        (array['smith', 'muller', 'garcia', 'rossi', 'jansen', 'novak', 'dubois', 'silva', 'kowalski', 'berg',
               'martin', 'lopez', 'weber', 'costa', 'nielsen', 'brown', 'sato', 'moreau', 'fischer', 'evans'])
            [1 + floor(20 * pg_temp.u(id, :seed, 11))::int] as last,
        (array['example.com', 'mail.example', 'post.example', 'inbox.example'])
            [1 + floor(4 * pg_temp.u(id, :seed, 12))::int] as domain,
        -- Initial customers signed up before the sales history starts (up to four years
        -- earlier); customers of an increment sign up in the day before its new orders.
        case when :'is_initial'
            then :'t_from'::timestamptz - make_interval(days => 1 + floor(1460 * pg_temp.u(id, :seed, 18))::int,
                                                        secs => floor(86400 * pg_temp.u(id, :seed, 19)))
            else :'t_from'::timestamptz - make_interval(secs => floor(86400 * pg_temp.u(id, :seed, 19)))
        end as created) as n;

-- Lookups: the n-th product (active ones only for new sales of an increment) and customer.
create temp table gen_products on commit drop as
select row_number() over (order by product_id) as idx, product_id, sku, unit_price
from raw.products
where is_active or :'is_initial';
select count(*) as n_pick_products from gen_products \gset
select pg_temp.fail('no active product to sell') where :n_pick_products = 0;

create temp table gen_customers on commit drop as
select row_number() over (order by customer_id) as idx, customer_id
from raw.customers;
select count(*) as n_pick_customers from gen_customers \gset
-- Statistics, so that the joins below are hash joins that keep the key order of the inserts.
analyze gen_products, gen_customers;

-- Bulk load: an initial load drops the secondary indexes and foreign keys of raw.orders and
-- raw.sales (as read from the catalogue) and re-creates them, unchanged, after the inserts:
-- building an index once and validating a foreign key with one join is ten times faster than
-- maintaining them row by row. All in this transaction, so a failure leaves them in place;
-- primary keys, NOT NULLs and CHECKs stay on during the load. -v bulk=off keeps everything.
\if :{?bulk}
\else
    \set bulk on
\endif
select :'is_initial' and :'bulk' <> 'off' as do_bulk \gset
\if :do_bulk
    set local maintenance_work_mem = '512MB';
    create temp table gen_deferred_ddl on commit drop as
    select 1 as step, format('drop index %s', i.indexrelid::regclass) as undo,
           pg_get_indexdef(i.indexrelid) as redo
    from pg_index as i
    where i.indrelid in ('raw.orders'::regclass, 'raw.sales'::regclass)
      and not exists (select from pg_constraint as k where k.conindid = i.indexrelid)
    union all
    select 2, format('alter table %s drop constraint %I', k.conrelid::regclass, k.conname),
           format('alter table %s add constraint %I %s', k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid))
    from pg_constraint as k
    where k.conrelid in ('raw.orders'::regclass, 'raw.sales'::regclass) and k.contype = 'f';
    select undo from gen_deferred_ddl order by step desc, undo \gexec
\endif

-- Orders of the new lines ------------------------------------------------------------------
-- 1 to 8 lines per order (about 4 on average); an order's lines are consecutive sale_ids and
-- orders are placed in key order between t_from and t_to, so ids grow with time as in a shop.
create temp table gen_orders on commit drop as
select
    :o_base + i as order_id,
    least(n_lines, :n_lines - first_line) as n_lines,
    first_line,
    :'t_from'::timestamptz
        + (:'t_to'::timestamptz - :'t_from'::timestamptz)
          * ((first_line + 0.5 + 0.49 * pg_temp.u(:o_base + i, :seed, 21)) / (:n_lines + 1)) as order_ts
from (
    select i, n_lines, sum(n_lines) over (order by i) - n_lines as first_line
    from (
        select i, 1 + floor(8 * power(pg_temp.u(:o_base + i, :seed, 20), 1.3))::int as n_lines
        from generate_series(1, :n_lines / 3 + 10) as i
    ) as candidates
) as numbered
where first_line < :n_lines;
analyze gen_orders;

-- Status by the order's age: recent orders are placed or shipped, older ones delivered; 5%
-- cancelled, some older ones returned. updated_at follows the last status change.
insert into raw.orders (order_id, customer_id, order_date, status, channel, updated_at)
select
    o.order_id,
    c.customer_id,
    (o.order_ts at time zone 'UTC')::date,
    st.status,
    case
        when pg_temp.u(o.order_id, :seed, 24) < 0.02 then null
        when pg_temp.u(o.order_id, :seed, 24) < 0.03 then ''
        when pg_temp.u(o.order_id, :seed, 24) < 0.06 then initcap(ch) || ' '
        else ch
    end,
    least(:'t_now'::timestamptz, o.order_ts + case st.status
        when 'placed' then make_interval(secs => 600 * pg_temp.u(o.order_id, :seed, 26))
        when 'cancelled' then make_interval(secs => 600 + 86400 * pg_temp.u(o.order_id, :seed, 26))
        when 'shipped' then make_interval(secs => 3600 + 86400 * pg_temp.u(o.order_id, :seed, 26))
        when 'delivered' then make_interval(days => 1, secs => 4 * 86400 * pg_temp.u(o.order_id, :seed, 26))
        else make_interval(days => 10, secs => 10 * 86400 * pg_temp.u(o.order_id, :seed, 26))
    end)
from gen_orders as o
join gen_customers as c
    on c.idx = 1 + floor(:n_pick_customers * power(pg_temp.u(o.order_id, :seed, 22), 1.6))::bigint,
    lateral (select
        (array['web', 'web', 'web', 'app', 'app', 'store', 'phone'])[1 + floor(7 * pg_temp.u(o.order_id, :seed, 23))::int] as ch,
        pg_temp.u(o.order_id, :seed, 25) as r,
        :'t_now'::timestamptz - o.order_ts as age) as a,
    lateral (select case
        when r < 0.05 then 'cancelled'
        when age > interval '14 days' and r < 0.09 then 'returned'
        when age < interval '1 day' then case when r < 0.80 then 'placed' else 'shipped' end
        when age < interval '5 days' then case when r < 0.70 then 'shipped' else 'delivered' end
        else 'delivered'
    end as status) as st;

-- Lines ------------------------------------------------------------------------------------
-- Popular products sell more; quantity mostly 1; 15% of lines at an older price; 30% with a
-- discount of 5-50% of the line (rarely the whole line), so discount <= quantity * unit_price.
-- A few SKUs are recorded in lower case or with spaces (stg_sales trims and upper-cases).
-- Initial load: loaded by a loader running every 15 minutes. Increment: loaded now.
insert into raw.sales (sale_id, order_id, product_id, sku, quantity, unit_price, discount, sold_at, loaded_at)
select
    l.sale_id,
    l.order_id,
    p.product_id,
    case
        when pg_temp.u(l.sale_id, :seed, 33) < 0.03 then lower(p.sku)
        when pg_temp.u(l.sale_id, :seed, 33) < 0.05 then ' ' || p.sku || ' '
        else p.sku
    end,
    q.quantity,
    q.unit_price,
    case
        when d.r < 0.70 then 0
        when d.r < 0.702 then q.quantity * q.unit_price
        else round(q.quantity * q.unit_price
                   * (array[0.05, 0.10, 0.10, 0.15, 0.20, 0.25, 0.30, 0.50])[1 + floor(8 * pg_temp.u(l.sale_id, :seed, 35))::int], 2)
    end,
    l.sold_at,
    case when :'is_initial'
        then least(:'t_now'::timestamptz,
                   date_bin('15 minutes', l.sold_at, timestamptz '2000-01-01 00:00:00+00')
                   + interval '15 minutes' + make_interval(secs => floor(120 * pg_temp.u(l.sale_id, :seed, 36))))
        else :'t_now'::timestamptz
    end
from (
    select
        :s_base + o.first_line + j + 1 as sale_id,
        o.order_id,
        least(:'t_to'::timestamptz, o.order_ts + make_interval(secs => j * 7)) as sold_at
    from gen_orders as o,
        generate_series(0, o.n_lines - 1) as j
) as l
join gen_products as p
    on p.idx = 1 + floor(:n_pick_products * power(pg_temp.u(l.sale_id, :seed, 30), 2))::bigint,
    lateral (select
        case
            when pg_temp.u(l.sale_id, :seed, 31) < 0.65 then 1
            when pg_temp.u(l.sale_id, :seed, 31) < 0.85 then 2
            when pg_temp.u(l.sale_id, :seed, 31) < 0.93 then 3
            else 4 + floor(9 * pg_temp.u(l.sale_id, :seed, 37))::int
        end as quantity,
        case
            when pg_temp.u(l.sale_id, :seed, 32) < 0.005 then 0.00
            when pg_temp.u(l.sale_id, :seed, 32) < 0.155
                then round(p.unit_price * (0.85 + 0.30 * pg_temp.u(l.sale_id, :seed, 38))::numeric, 2)
            else p.unit_price
        end::numeric(12, 2) as unit_price) as q,
    lateral (select pg_temp.u(l.sale_id, :seed, 34) as r) as d;

select count(*) as n_new_orders from gen_orders \gset

\if :do_bulk
    select redo from gen_deferred_ddl order by step, redo \gexec
\endif

-- Increment only: lines of existing orders that arrive late or with an old loaded_at ---------
-- Each kind takes existing, not cancelled orders that had lines sold in a time range, and adds
-- one line to them (round robin when there are more lines than orders), a few minutes after
-- the order's last line. The row's loaded_at decides whether an incremental run sees it.
--   late:     sold 1-2 days before the newest sold_at, loaded_at = now         (> watermark)
--   lookback: loaded_at = watermark - lookback_days / 2, sold in the day before (inside)
--   stale:    loaded_at = watermark - lookback_days - 1 day, sold in the day before (outside)
create temp table gen_extra_kinds on commit drop as
select kind, n, position, sold_from, sold_to, loaded_at
from (values
    ('late', :n_late, 1,
        :'max_sold'::timestamptz - interval '2 days', :'max_sold'::timestamptz - interval '1 day', :'t_now'::timestamptz),
    ('stale', :n_stale, 2,
        :'watermark'::timestamptz - make_interval(days => :'lookback_days'::int + 2),
        :'watermark'::timestamptz - make_interval(days => :'lookback_days'::int + 1, hours => 1),
        :'watermark'::timestamptz - make_interval(days => :'lookback_days'::int + 1)),
    ('lookback', :n_lookback, 3,
        :'watermark'::timestamptz - make_interval(hours => :'lookback_days'::int * 12 + 24),
        :'watermark'::timestamptz - make_interval(hours => :'lookback_days'::int * 12 + 1),
        :'watermark'::timestamptz - make_interval(hours => :'lookback_days'::int * 12))
) as k (kind, n, position, sold_from, sold_to, loaded_at)
where n > 0;

create temp table gen_extra_orders on commit drop as
select
    k.kind,
    row_number() over (partition by k.kind order by hashint8extended(s.order_id, :seed), s.order_id) as idx,
    s.order_id,
    s.last_sold
from gen_extra_kinds as k,
    lateral (
        select order_id, max(sold_at) as last_sold
        from raw.sales
        where sold_at >= k.sold_from and sold_at < k.sold_to
        group by order_id
    ) as s
join raw.orders as o
    on o.order_id = s.order_id
where o.status <> 'cancelled';

select pg_temp.fail('no existing order with lines sold between ' || k.sold_from || ' and ' || k.sold_to
        || ' for the ' || k.kind || ' lines')
from gen_extra_kinds as k
where not exists (select from gen_extra_orders as e where e.kind = k.kind);

-- Keys after the new lines: late, then stale, then lookback.
insert into raw.sales (sale_id, order_id, product_id, sku, quantity, unit_price, discount, sold_at, loaded_at)
select
    x.sale_id,
    e.order_id,
    p.product_id,
    p.sku,
    1 + floor(3 * power(pg_temp.u(x.sale_id, :seed, 41), 2))::int,
    p.unit_price,
    0,
    least(e.last_sold + make_interval(secs => 60 + floor(600 * pg_temp.u(x.sale_id, :seed, 42))), k.sold_to),
    k.loaded_at
from (
    select
        k.kind,
        :s_base + :n_lines
            + coalesce((select sum(k2.n) from gen_extra_kinds as k2 where k2.position < k.position), 0)
            + i as sale_id,
        i
    from gen_extra_kinds as k,
        generate_series(1, k.n) as i
) as x
join gen_extra_kinds as k
    on k.kind = x.kind
join gen_extra_orders as e
    on e.kind = x.kind
   and e.idx = 1 + (x.i - 1) % (select count(*) from gen_extra_orders as e2 where e2.kind = x.kind)
join gen_products as p
    on p.idx = 1 + floor(:n_pick_products * power(pg_temp.u(x.sale_id, :seed, 40), 2))::bigint;

-- Increment only: orders move on through fulfilment (status_updates, oldest open orders first).
update raw.orders
set status = case status when 'placed' then 'shipped' else 'delivered' end,
    updated_at = greatest(updated_at, :'t_now'::timestamptz)
where order_id in (
    select order_id
    from raw.orders
    where status in ('placed', 'shipped')
    order by order_id
    limit :n_status
);

select
    (select count(*) from raw.products) as after_products,
    (select count(*) from raw.customers) as after_customers,
    (select count(*) from raw.orders) as after_orders,
    (select count(*) from raw.sales) as after_sales,
    (select coalesce(max(loaded_at)::text, '') from raw.sales) as after_max_loaded
\gset
select
    :after_products - :before_products as d_products,
    :after_customers - :before_customers as d_customers,
    :after_orders - :before_orders as d_orders,
    :after_sales - :before_sales as d_sales
\gset

commit;

\if :do_analyze
    analyze raw.products, raw.customers, raw.orders, raw.sales;
\endif

\if :is_initial
    \echo 'generate_data: mode=initial seed=':seed' products=':after_products' (+':d_products') customers=':after_customers' (+':d_customers') orders=':after_orders' (+':d_orders') sales=':after_sales' (+':d_sales') newest loaded_at=':after_max_loaded
\else
    \echo 'generate_data: mode=increment seed=':seed' products=':after_products' (+':d_products') customers=':after_customers' (+':d_customers') orders=':after_orders' (+':d_orders') sales=':after_sales' (+':d_sales': new=':n_lines' late=':n_late' stale=':n_stale' lookback=':n_lookback') status_updates=':n_status' watermark=':watermark' now=':t_now
\endif

\o
\set ON_ERROR_STOP :gd_saved_on_error_stop
\set QUIET :gd_saved_quiet
