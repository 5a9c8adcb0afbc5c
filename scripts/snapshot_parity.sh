#!/usr/bin/env bash
# Snapshot parity by hand (not run by CI): the fixture
# tests/fixtures/ok_dbt_snapshots (or PROJECT_DIR, with a seed
# raw_customers.csv of id,region,name,status,updated_at) built by dbt
# (`dbt seed && dbt snapshot && dbt run`) and by `stackc apply`, each in its
# own fresh database, over three rounds of source changes: updates, a
# deleted row, a new row, a change of a column the check strategy ignores.
# After each round it prints the differences of every snapshot table.
#
#   scripts/snapshot_parity.sh [PROJECT_DIR]
#
# Times a snapshot stamps itself (the check strategy without updated_at,
# the dbt_valid_to of a hard delete) differ between the two tools by when
# each ran: every timestamp after the script started compares as `now`, and
# for tables without an `updated_at` column dbt_scd_id (a hash of that time)
# is left out; so is the dbt_scd_id of a version marked deleted
# (`hard_deletes: new_record`, also a hash of that time).
# Needs psql, dbt ($DBT, default /opt/dbtvenv/bin/dbt) and stackc ($STACKC,
# default target/debug/stackc). Exit status 0 when every round matches.
set -euo pipefail

project=${1:-$(dirname "$0")/../tests/fixtures/ok_dbt_snapshots}
dbt=${DBT:-/opt/dbtvenv/bin/dbt}
stackc=${STACKC:-$(dirname "$0")/../target/debug/stackc}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
work=$(mktemp -d)
cleanup() {
    for side in dbt stackc; do
        psql -qd postgres -c "drop database if exists snap_${side}_$$" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

profile=$(sed -n "s/^profile:[[:space:]]*['\"]\{0,1\}\([A-Za-z0-9_]*\).*/\1/p" "$project/dbt_project.yml")
for side in dbt stackc; do
    db=snap_${side}_$$
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
      schema: shop
      threads: 1
YML
done

round_csv() {
    case $1 in
    1) printf '%s\n' 'id,region,name,status,updated_at' \
        '1,eu,Ann,active,2024-01-01 10:00:00' \
        '2,eu,Bob,active,2024-01-01 10:00:00' \
        '3,us,Cid,trial,2024-01-02 09:30:00' ;;
    2) printf '%s\n' 'id,region,name,status,updated_at' \
        '1,eu,Ann,churned,2024-02-01 08:00:00' \
        '2,eu,Bobby,active,2024-02-01 08:00:00' \
        '4,us,Dee,trial,2024-02-03 12:00:00' ;;
    3) printf '%s\n' 'id,region,name,status,updated_at' \
        '1,eu,Ann,active,2024-03-01 08:00:00' \
        '2,eu,Bobby,active,2024-02-01 08:00:00' \
        '3,us,Cid,active,2024-03-02 09:00:00' \
        '4,us,Dee,,2024-03-03 12:00:00' ;;
    esac
}

snapshot_tables="select table_schema || '.' || table_name from information_schema.columns
  where column_name = 'dbt_scd_id' group by 1 order by 1"

rows() { # db table
    local cols
    cols=$(psql -Atqd "$1" -c "select string_agg(
        case when c.data_type like 'timestamp%'
             then format('case when %I >= ''$started'' then ''now'' else %I::text end as %I', c.column_name, c.column_name, c.column_name)
             when c.column_name = 'dbt_scd_id' and exists (select 1 from information_schema.columns d
                  where (d.table_schema, d.table_name) = (c.table_schema, c.table_name) and d.column_name = 'dbt_is_deleted')
             then 'case when dbt_is_deleted = ''True'' then ''now'' else dbt_scd_id end as dbt_scd_id'
             else format('%I', c.column_name) end, ', ' order by c.ordinal_position)
      from information_schema.columns c
      where c.table_schema || '.' || c.table_name = '$2'
        and not (c.column_name = 'dbt_scd_id' and not exists (select 1 from information_schema.columns u
                 where (u.table_schema, u.table_name) = (c.table_schema, c.table_name) and u.column_name = 'updated_at'))")
    psql -Atqd "$1" -c "select $cols from $2 order by 1, 2, 3, 4, 5, 6"
}

started=$(psql -Atqd postgres -c "select now()::timestamp without time zone")
status=0
for round in 1 2 3; do
    for side in dbt stackc; do
        round_csv $round > "$work/$side/seeds/raw_customers.csv"
    done
    echo "== round $round" >&2
    (cd "$work/dbt" && "$dbt" seed --profiles-dir . && "$dbt" snapshot --profiles-dir . && "$dbt" run --profiles-dir .) >"$work/dbt.log" 2>&1 \
        || { tail -20 "$work/dbt.log"; echo "dbt failed in round $round" >&2; exit 1; }
    "$stackc" apply "$work/stackc" >"$work/stackc.log" 2>&1 \
        || { tail -20 "$work/stackc.log"; echo "stackc apply failed in round $round" >&2; exit 1; }
    t_dbt=$(psql -Atqd "snap_dbt_$$" -c "$snapshot_tables")
    t_stackc=$(psql -Atqd "snap_stackc_$$" -c "$snapshot_tables")
    if [ "$t_dbt" != "$t_stackc" ]; then
        echo "round $round: snapshot tables differ"; diff <(echo "$t_dbt") <(echo "$t_stackc") || true
        status=1
        continue
    fi
    for t in $t_dbt; do
        if ! diff <(rows "snap_dbt_$$" "$t") <(rows "snap_stackc_$$" "$t") >"$work/diff"; then
            echo "round $round: $t differs (< dbt, > stackc)"; cat "$work/diff"
            status=1
        else
            echo "round $round: $t equal ($(rows "snap_dbt_$$" "$t" | wc -l) rows)"
        fi
    done
done
exit $status
