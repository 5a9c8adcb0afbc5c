#!/usr/bin/env bash
# Parity check by hand (not run by CI): builds one dbt project with dbt and
# with stackc, each into its own fresh database, and prints every difference
# in relations, column names, column types and rows.
#
#   scripts/dbt_parity.sh PROJECT_DIR [PROFILE_TARGET_SCHEMA]
#
# PROJECT_DIR is left untouched: it is copied twice into a temporary folder,
# each copy gets a profiles.yml for its own database. Needs psql, dbt
# ($DBT, default /opt/dbtvenv/bin/dbt) and a debug build of stackc ($STACKC,
# default target/debug/stackc). PostgreSQL from $PGHOST/$PGPORT/$PGUSER
# (default 127.0.0.1:5432, postgres). Exit status 0 when all match.
set -euo pipefail

project=${1:?usage: scripts/dbt_parity.sh PROJECT_DIR [SCHEMA]}
schema=${2:-dbt_parity}
dbt=${DBT:-/opt/dbtvenv/bin/dbt}
stackc=${STACKC:-$(dirname "$0")/../target/debug/stackc}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
db_dbt=parity_dbt_$$
db_stackc=parity_stackc_$$
work=$(mktemp -d)
cleanup() {
    psql -qd postgres -c "drop database if exists $db_dbt" -c "drop database if exists $db_stackc" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

profile=$(sed -n "s/^profile:[[:space:]]*['\"]\{0,1\}\([A-Za-z0-9_]*\).*/\1/p" "$project/dbt_project.yml")
for side in dbt stackc; do
    db=parity_${side}_$$
    psql -qd postgres -c "create database $db" >/dev/null
    mkdir -p "$work/$side"
    cp -R "$project/." "$work/$side/"
    rm -rf "$work/$side/target" "$work/$side/stackc_target"
    cat > "$work/$side/profiles.yml" <<YML
$profile:
  target: parity
  outputs:
    parity:
      type: postgres
      host: $PGHOST
      port: $PGPORT
      user: $PGUSER
      password: "{{ env_var('PGPASSWORD', '') }}"
      dbname: $db
      schema: $schema
      threads: 2
YML
done

echo "== dbt build" >&2
(cd "$work/dbt" && "$dbt" seed --profiles-dir . >"$work/dbt.log" 2>&1 && "$dbt" build --profiles-dir . >>"$work/dbt.log" 2>&1) || { tail -20 "$work/dbt.log"; echo "dbt build failed" >&2; }
echo "== stackc apply" >&2
"$stackc" apply "$work/stackc" >"$work/stackc.log" 2>&1 || { tail -20 "$work/stackc.log"; echo "stackc apply failed" >&2; }

# Relations, columns and types of every schema dbt or stackc made (the
# history tables, stackc_*, are stackc's own and left out).
columns_sql="select table_schema, table_name, ordinal_position, column_name, data_type
  from information_schema.columns
  where table_schema not in ('pg_catalog', 'information_schema')
    and table_name not like 'stackc\\_%'
  order by 1, 2, 3"
psql -qAtd "$db_dbt" -c "$columns_sql" > "$work/columns.dbt"
psql -qAtd "$db_stackc" -c "$columns_sql" > "$work/columns.stackc"
status=0
if ! diff -u "$work/columns.dbt" "$work/columns.stackc" > "$work/columns.diff"; then
    echo "== columns differ (- dbt, + stackc):"
    cat "$work/columns.diff"
    status=1
fi

relations=$(psql -qAtd "$db_dbt" -c "select distinct table_schema || '.' || table_name from information_schema.columns
  where table_schema not in ('pg_catalog', 'information_schema') order by 1")
checked=0
for rel in $relations; do
    # Every row in a canonical order: sort the text of whole rows.
    psql -qAtd "$db_dbt" -c "copy (select * from $rel) to stdout" | LC_ALL=C sort > "$work/rows.dbt"
    if ! psql -qAtd "$db_stackc" -c "copy (select * from $rel) to stdout" 2>/dev/null | LC_ALL=C sort > "$work/rows.stackc"; then
        echo "== $rel: missing in stackc's database"
        status=1
        continue
    fi
    checked=$((checked + 1))
    if ! diff -q "$work/rows.dbt" "$work/rows.stackc" >/dev/null; then
        echo "== $rel: rows differ (- dbt, + stackc):"
        diff -u "$work/rows.dbt" "$work/rows.stackc" | head -20
        status=1
    fi
done
echo "checked $checked relations of dbt against stackc: $([ $status = 0 ] && echo 'all equal' || echo 'differences above')"
exit $status
