#!/usr/bin/env bash
# Benchmark and check the incremental build of marts.fact_sales against a full refresh.
#
#   scripts/bench_incremental.sh                      # 10 million lines in a scratch database
#   scripts/bench_incremental.sh --rows 1000 --new 100 --late 10 --stale 1   # the quick check
#   scripts/bench_incremental.sh --database-url postgresql://u@host/db       # a database of yours
#
# Steps (docs/data-generator.md explains them and records results):
#   1. a scratch database (or --database-url), the migrations of <artifacts>/manifest.json in
#      their `migrations` order, each with `psql -1 -v ON_ERROR_STOP=1 -f`; then --extra-sql files;
#   2. scripts/generate_data.sql, initial load of --rows lines;
#   3. the steps of `run_order` (the incremental step with its `full_file`, as a first run does),
#      tests counted (--no-tests to skip), then VACUUM (ANALYZE) of the raw and marts tables;
#   4. in ONE psql session with \timing: a full refresh of fact_sales (`full_file` in one
#      transaction), VACUUM (ANALYZE) fact_sales, an increment of the raw data (--new lines sold
#      now, --late lines sold 1-2 days back and loaded now, --stale lines with a loaded_at older
#      than the lookback window), EXPLAIN (ANALYZE, BUFFERS) of the incremental merge in a
#      transaction that is rolled back, the incremental run (`file`, one transaction), checks,
#      and a second full refresh compared with the incremental result;
#   5. the figures, and PASS or FAIL (exit 1 on FAIL). The scratch database is dropped.
#
# Connection: --database-url, else libpq's variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, ...)
# with PGHOST defaulting to 127.0.0.1 and PGUSER to postgres; the scratch database is created
# from the `postgres` database there. Needs psql (15) and python3 (to read the manifest).
# Not part of any automated test: 10 million lines take several minutes and ~10 GB of disk.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

rows=10000000
new=""
late=""
stale=1
seed=42
lookback_days=3
artifacts="$repo/migrations"
database_url=""
keep=0
tests=auto
extra_sql=()
plan_out=""
force=0

usage() {
    sed -n '2,29p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    cat <<'EOF'

Options:
  --rows N            raw sales lines of the initial load (default 10000000)
  --new N             new lines of the increment (default rows / 100)
  --late N            late lines of the increment (default new / 100, at least 1)
  --stale N           lines loaded with a loaded_at outside the lookback window (default 1)
  --seed N            generator seed (default 42)
  --lookback-days N   the project's lookback_days (default 3)
  --artifacts DIR     compiled artifacts with manifest.json (default: <repo>/migrations)
  --extra-sql FILE    run FILE after the migrations, e.g. a proposed index (repeatable)
  --database-url URL  use this database instead of a scratch one; its raw tables must be
                      empty; nothing is dropped
  --keep              keep the scratch database
  --tests / --no-tests  run the test steps of run_order after the first build
                      (default: only when --rows <= 1000000)
  --plan-out FILE     also write the EXPLAIN (ANALYZE, BUFFERS) output to FILE
  --force             skip the free disk space check
  -h, --help          this text
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --rows) rows="$2"; shift 2 ;;
        --new) new="$2"; shift 2 ;;
        --late) late="$2"; shift 2 ;;
        --stale) stale="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --lookback-days) lookback_days="$2"; shift 2 ;;
        --artifacts) artifacts="$2"; shift 2 ;;
        --extra-sql) extra_sql+=("$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
        --database-url) database_url="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        --tests) tests=1; shift ;;
        --no-tests) tests=0; shift ;;
        --plan-out) plan_out="$2"; shift 2 ;;
        --force) force=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench_incremental: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

for n in "$rows" "$stale" "$seed" "$lookback_days" ${new:+"$new"} ${late:+"$late"}; do
    case "$n" in
        ''|*[!0-9]*) echo "bench_incremental: not a non-negative integer: $n" >&2; exit 2 ;;
    esac
done
[ -n "$new" ] || new=$(( rows / 100 ))
[ -n "$late" ] || { late=$(( new / 100 )); [ "$late" -ge 1 ] || late=1; }
[ "$tests" != auto ] || { if [ "$rows" -le 1000000 ]; then tests=1; else tests=0; fi; }
artifacts="$(cd "$artifacts" && pwd)"
manifest="$artifacts/manifest.json"
[ -f "$manifest" ] || { echo "bench_incremental: no manifest.json in $artifacts" >&2; exit 2; }
command -v psql >/dev/null || { echo "bench_incremental: psql not found" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench_incremental: python3 not found" >&2; exit 2; }

export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
dropdb_on_exit=""
if [ -n "$database_url" ]; then
    db="$database_url"
else
    export PGHOST="${PGHOST:-127.0.0.1}" PGUSER="${PGUSER:-postgres}"
    db="stackc_bench_$$"
fi

psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
now_ms() { date +%s%3N; }
log() { printf '%s\n' "$*" >&2; }

# Rough disk need: raw tables and indexes, the fact and its indexes, WAL: ~1 KB per line.
need_mb=$(( rows / 1000 + 500 ))
avail_mb=$(df -Pm / | awk 'NR == 2 { print $4 }')
log "bench_incremental: rows=$rows new=$new late=$late stale=$stale seed=$seed artifacts=$artifacts"
log "disk: ${avail_mb} MB free on / (df -h /), about ${need_mb} MB needed if the server is local"
if [ "$force" = 0 ] && [ "$avail_mb" -lt "$need_mb" ]; then
    echo "bench_incremental: not enough free disk space on / (${avail_mb} MB < ${need_mb} MB); --force to go on" >&2
    exit 1
fi

if [ -z "$database_url" ]; then
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "create database $db"
    dropdb_on_exit="$db"
fi
cleanup() {
    if [ -n "$dropdb_on_exit" ]; then
        if [ "$keep" = 1 ]; then
            log "kept database $dropdb_on_exit (drop database $dropdb_on_exit;)"
        else
            psql -X -q -d postgres -c "drop database if exists $dropdb_on_exit with (force)" >/dev/null || true
            log "dropped database $dropdb_on_exit"
        fi
    fi
    [ -z "${work:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
work="$(mktemp -d)"

# 1. Migrations, in the manifest's order.
python3 - "$manifest" >"$work/migrations.txt" <<'EOF'
import json, sys
for m in json.load(open(sys.argv[1]))["migrations"]:
    print(m["file"])
EOF
t=$(now_ms)
while read -r f; do
    psql_db -1 -f "$artifacts/$f" >/dev/null
done <"$work/migrations.txt"
for f in ${extra_sql[@]+"${extra_sql[@]}"}; do
    log "extra sql: $f"
    psql_db -1 -f "$f" >/dev/null
done
log "migrations: $(wc -l <"$work/migrations.txt") files in $(( $(now_ms) - t )) ms"

# 2. Initial load.
t=$(now_ms)
psql_db -v rows="$rows" -v seed="$seed" -f "$here/generate_data.sql" >&2
load_ms=$(( $(now_ms) - t ))
log "initial load: $load_ms ms"

# 3. The run steps, as a first run: the incremental step with its full_file.
python3 - "$manifest" >"$work/run_order.txt" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["run_order"]:
    f = r["full_file"] if r["step"] == "incremental" else r["file"]
    print(r["step"], f, r["node"])
EOF
failed_tests=0
ran_tests=0
t=$(now_ms)
while read -r step file node; do
    case "$step" in
        test)
            [ "$tests" = 1 ] || continue
            ran_tests=$(( ran_tests + 1 ))
            { printf 'select count(*) from (\n'; sed -e 's/;[[:space:]]*$//' "$artifacts/$file"; printf '\n) as failures;\n'; } >"$work/test.sql"
            n=$(psql_db -At -f "$work/test.sql")
            if [ "$n" != 0 ]; then
                failed_tests=$(( failed_tests + 1 ))
                log "  test $node: $n failing rows"
            fi
            ;;
        vacuum)
            psql_db -f "$artifacts/$file" >/dev/null ;;
        *)
            s=$(now_ms)
            psql_db -1 -f "$artifacts/$file" >/dev/null
            log "  $step $node: $(( $(now_ms) - s )) ms"
            ;;
    esac
done <"$work/run_order.txt"
log "first build: $(( $(now_ms) - t )) ms; tests: $ran_tests run, $failed_tests with failing rows"
t=$(now_ms)
psql_db -c "vacuum (analyze) raw.products, raw.customers, raw.orders, raw.sales" \
        -c "vacuum (analyze) marts.dim_products, marts.dim_customers, marts.fact_sales, marts.daily_sales_summary"
log "vacuum (analyze) after the build: $(( $(now_ms) - t )) ms"

# 4. The measured session.
full_file="$(python3 - "$manifest" <<'EOF'
import json, sys
print(next(r for r in json.load(open(sys.argv[1]))["run_order"] if r["node"] == "model.analytics.fact_sales")["full_file"])
EOF
)"
incr_file="$(python3 - "$manifest" <<'EOF'
import json, sys
print(next(r for r in json.load(open(sys.argv[1]))["run_order"] if r["node"] == "model.analytics.fact_sales")["file"])
EOF
)"
# EXPLAIN goes in front of the data statement (the first line starting with merge, insert or
# delete), so that statements before it (if the step has any) run as they are.
python3 - "$artifacts/$incr_file" >"$work/explain_incremental.sql" <<'EOF'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
i = next((n for n, l in enumerate(lines) if re.match(r"\s*(merge|insert|delete)\s", l, re.I)), None)
if i is None:
    sys.exit("bench_incremental: no merge, insert or delete statement in " + sys.argv[1])
lines.insert(i, "explain (analyze, buffers)")
print("\n".join(lines))
EOF
exact=0
[ "$rows" -le 1000000 ] && exact=1

cat >"$work/session.sql" <<EOF
\\set ON_ERROR_STOP on
\\set QUIET on
\\pset pager off
\\timing on

\\echo '-- full refresh 1 (the data of the initial load)'
select extract(epoch from clock_timestamp()) as t0 \\gset
begin;
\\i $artifacts/$full_file
commit;
select round((extract(epoch from clock_timestamp()) - :t0) * 1000)::bigint as full1_ms \\gset
\\echo BENCH full1_ms=:full1_ms
vacuum (analyze) marts.fact_sales;

\\timing off
select count(*) as fact_before, max(loaded_at) as watermark,
       replace(max(loaded_at)::text, ' ', 'T') as watermark_word
from marts.fact_sales \\gset
select max(sale_id) as s_base from raw.sales \\gset
\\echo BENCH fact_before=:fact_before watermark=:watermark_word

\\echo '-- increment of the raw data'
\\set mode increment
\\set seed $seed
\\set new_rows $new
\\set late_rows $late
\\set stale_rows $stale
\\set lookback_rows 0
\\set lookback_days $lookback_days
\\set analyze off
\\i $here/generate_data.sql
\\set QUIET on

select
    count(*) filter (where s.sale_id <= :s_base + $new) as inc_new,
    count(*) filter (where s.sale_id > :s_base + $new and s.sale_id <= :s_base + $new + $late) as inc_late,
    count(*) filter (where s.sale_id > :s_base + $new + $late) as inc_stale,
    count(*) filter (where s.sale_id <= :s_base + $new + $late and o.status <> 'cancelled') as exp_new_late,
    count(*) filter (where s.sale_id > :s_base + $new + $late and o.status <> 'cancelled') as exp_stale,
    count(*) filter (where s.sale_id > :s_base + $new + $late
                       and s.loaded_at > :'watermark'::timestamptz - interval '$lookback_days days') as stale_inside_window,
    count(*) filter (where s.sale_id <= :s_base + $new + $late
                       and s.loaded_at <= :'watermark'::timestamptz) as new_late_not_after_watermark
from raw.sales as s
join raw.orders as o
    on o.order_id = s.order_id
where s.sale_id > :s_base
\\gset
select count(*) as window_existing
from raw.sales as s
join raw.orders as o
    on o.order_id = s.order_id
where s.sale_id <= :s_base and o.status <> 'cancelled'
  and s.loaded_at > :'watermark'::timestamptz - interval '$lookback_days days'
\\gset
\\echo BENCH inc_new=:inc_new inc_late=:inc_late inc_stale=:inc_stale exp_new_late=:exp_new_late exp_stale=:exp_stale stale_inside_window=:stale_inside_window new_late_not_after_watermark=:new_late_not_after_watermark window_existing=:window_existing

\\echo '-- EXPLAIN (ANALYZE, BUFFERS) of the incremental merge (rolled back)'
\\echo BENCH_PLAN_BEGIN
\\set QUIET off
begin;
\\i $work/explain_incremental.sql
rollback;
\\set QUIET on
\\echo BENCH_PLAN_END

\\echo '-- incremental run'
\\timing on
select extract(epoch from clock_timestamp()) as t0 \\gset
begin;
\\i $artifacts/$incr_file
commit;
select round((extract(epoch from clock_timestamp()) - :t0) * 1000)::bigint as incr_ms \\gset
\\timing off
\\echo BENCH incr_ms=:incr_ms

select count(*) as fact_incr, count(distinct sale_id) as fact_incr_distinct,
       coalesce(sum(hashtext(f::text)::bigint), 0) as incr_hash
from marts.fact_sales as f \\gset
select count(*) as stale_in_incr from marts.fact_sales where sale_id > :s_base + $new + $late \\gset
\\echo BENCH fact_incr=:fact_incr fact_incr_distinct=:fact_incr_distinct stale_in_incr=:stale_in_incr
\\if $exact
create temporary table fact_incr_copy as table marts.fact_sales;
\\endif

\\echo '-- full refresh 2 (after the increment)'
\\timing on
select extract(epoch from clock_timestamp()) as t0 \\gset
begin;
\\i $artifacts/$full_file
commit;
select round((extract(epoch from clock_timestamp()) - :t0) * 1000)::bigint as full2_ms \\gset
\\timing off
\\echo BENCH full2_ms=:full2_ms

select count(*) as fact_full, coalesce(sum(hashtext(f::text)::bigint), 0) as full_hash,
       coalesce(sum(hashtext(f::text)::bigint) filter (where sale_id > :s_base + $new + $late), 0) as stale_hash,
       count(*) filter (where sale_id > :s_base + $new + $late) as stale_in_full
from marts.fact_sales as f \\gset
select (:full_hash - :stale_hash = :incr_hash) as hash_match \\gset
\\echo BENCH fact_full=:fact_full stale_in_full=:stale_in_full hash_match=:hash_match
\\if $exact
select
    (select count(*) from (table marts.fact_sales except all table fact_incr_copy) as d) as only_in_full,
    (select count(*) from (table fact_incr_copy except all table marts.fact_sales) as d) as only_in_incr
\\gset
\\echo BENCH only_in_full=:only_in_full only_in_incr=:only_in_incr
\\endif
select replace(pg_size_pretty(pg_total_relation_size('raw.sales')), ' ', '') as raw_sales_size,
       replace(pg_size_pretty(pg_total_relation_size('marts.fact_sales')), ' ', '') as fact_size,
       replace(pg_size_pretty(pg_database_size(current_database())), ' ', '') as db_size \\gset
\\echo BENCH raw_sales_size=:raw_sales_size fact_size=:fact_size db_size=:db_size
EOF

psql -X -v ON_ERROR_STOP=1 -d "$db" -f "$work/session.sql" | tee "$work/session.out"
[ -z "$plan_out" ] || sed -n '/^BENCH_PLAN_BEGIN$/,/^BENCH_PLAN_END$/p' "$work/session.out" | sed '1d;$d' >"$plan_out"

# The tests again, on the data after the increment (and the second full refresh).
failed_tests_after=0
if [ "$tests" = 1 ]; then
    while read -r step file node; do
        [ "$step" = test ] || continue
        { printf 'select count(*) from (\n'; sed -e 's/;[[:space:]]*$//' "$artifacts/$file"; printf '\n) as failures;\n'; } >"$work/test.sql"
        n=$(psql_db -At -f "$work/test.sql")
        if [ "$n" != 0 ]; then
            failed_tests_after=$(( failed_tests_after + 1 ))
            log "  test $node (after the increment): $n failing rows"
        fi
    done <"$work/run_order.txt"
fi

# 5. Figures and checks.
declare -A v
while read -r line; do
    for kv in ${line#BENCH }; do v[${kv%%=*}]="${kv#*=}"; done
done < <(grep '^BENCH [a-z]' "$work/session.out")

ok=1
check() { # name, condition result (0 = true)
    if [ "$2" = 0 ]; then echo "  ok    $1"; else echo "  FAIL  $1"; ok=0; fi
}
echo
echo "== bench_incremental: $rows lines, increment new=$new late=$late stale=$stale (seed $seed)"
echo "initial load (generator)          ${load_ms} ms"
echo "full refresh 1 ($rows lines)     ${v[full1_ms]} ms"
echo "incremental run                    ${v[incr_ms]} ms"
echo "full refresh 2 (after increment)   ${v[full2_ms]} ms"
ratio1=$(awk -v a="${v[full1_ms]}" -v b="${v[incr_ms]}" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
ratio2=$(awk -v a="${v[full2_ms]}" -v b="${v[incr_ms]}" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
echo "ratio full/incremental             ${ratio1}x (full refresh 1), ${ratio2}x (full refresh 2); target >= 20x"
echo "fact_sales rows: before ${v[fact_before]}, after incremental ${v[fact_incr]}, after full refresh ${v[fact_full]}"
echo "rows re-read inside the lookback window (existing, not cancelled): ${v[window_existing]}"
echo "sizes: raw.sales ${v[raw_sales_size]}, marts.fact_sales ${v[fact_size]}, database ${v[db_size]}"
echo "checks:"
check "increment: ${v[inc_new]} new, ${v[inc_late]} late, ${v[inc_stale]} stale lines inserted" \
    "$([ "${v[inc_new]}" = "$new" ] && [ "${v[inc_late]}" = "$late" ] && [ "${v[inc_stale]}" = "$stale" ]; echo $?)"
check "new and late lines are loaded after the watermark ${v[watermark]}" \
    "$([ "${v[new_late_not_after_watermark]}" = 0 ]; echo $?)"
check "stale lines are outside the window (loaded_at <= watermark - $lookback_days days)" \
    "$([ "${v[stale_inside_window]}" = 0 ]; echo $?)"
check "incremental grew fact_sales by the non-cancelled new+late lines: $(( v[fact_incr] - v[fact_before] )) = ${v[exp_new_late]}" \
    "$([ $(( v[fact_incr] - v[fact_before] )) = "${v[exp_new_late]}" ]; echo $?)"
check "incremental did not pick up the stale lines (${v[stale_in_incr]} of them in fact_sales)" \
    "$([ "${v[stale_in_incr]}" = 0 ]; echo $?)"
check "no duplicate sale_id after the incremental run (${v[fact_incr]} rows, ${v[fact_incr_distinct]} distinct)" \
    "$([ "${v[fact_incr]}" = "${v[fact_incr_distinct]}" ]; echo $?)"
check "full refresh = incremental result + ${v[exp_stale]} non-cancelled stale lines: ${v[fact_full]} = ${v[fact_incr]} + ${v[exp_stale]}" \
    "$([ "${v[fact_full]}" = $(( v[fact_incr] + v[exp_stale] )) ] && [ "${v[stale_in_full]}" = "${v[exp_stale]}" ]; echo $?)"
check "full refresh has the same row values as the incremental result (sum of row hashes)" \
    "$([ "${v[hash_match]}" = t ]; echo $?)"
if [ "$exact" = 1 ]; then
    check "exact comparison (except all): ${v[only_in_full]} rows only in the full refresh, ${v[only_in_incr]} only in the incremental result" \
        "$([ "${v[only_in_full]}" = "${v[exp_stale]}" ] && [ "${v[only_in_incr]}" = 0 ]; echo $?)"
fi
if [ "$tests" = 1 ]; then
    check "tests of run_order after the first build: $ran_tests run, $failed_tests with failing rows" \
        "$([ "$failed_tests" = 0 ]; echo $?)"
    check "tests of run_order after the increment: $ran_tests run, $failed_tests_after with failing rows" \
        "$([ "$failed_tests_after" = 0 ]; echo $?)"
fi
if [ "$ok" = 1 ]; then echo "PASS"; else echo "FAIL"; exit 1; fi
