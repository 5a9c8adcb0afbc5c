#!/usr/bin/env bash
# Selection parity by hand (not run by CI): for each selector, `dbt ls` and
# `stackc ls` on the same dbt project must print the same lines.
#
#   scripts/ls_parity.sh PROJECT_DIR [SELECTOR...]
#
# Without selectors a fixed set covering the grammar's operators and methods
# is used; a selector that dbt rejects or that matches nothing is compared
# too (both print nothing). PROJECT_DIR is copied, never changed; the copy
# gets a profiles.yml (no database is contacted: ls needs none). Needs dbt
# ($DBT, default /opt/dbtvenv/bin/dbt) and stackc ($STACKC, default
# target/debug/stackc). Exit status 0 when every selector agrees.
set -euo pipefail

project=${1:?usage: scripts/ls_parity.sh PROJECT_DIR [SELECTOR...]}
shift
dbt=${DBT:-/opt/dbtvenv/bin/dbt}
stackc=${STACKC:-$(cd "$(dirname "$0")/.." && pwd)/target/debug/stackc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ $# -eq 0 ]; then
    set -- "" "+orders" "orders+" "1+orders" "@stg_payments" "path:models/staging" \
        "*.stg_*" "config.materialized:view" "config.materialized:table" \
        "resource_type:seed" "resource_type:test" "test_type:generic" "test_type:singular" \
        "test_name:unique" "test_name:not_null,config.severity:error" "tag:nightly" \
        "source:*" "package:$(sed -n "s/^name:[[:space:]]*['\"]\{0,1\}\([A-Za-z0-9_]*\).*/\1/p" "$project/dbt_project.yml")" \
        "fqn:*" "stg_orders stg_payments" "+orders,resource_type:model"
fi

profile=$(sed -n "s/^profile:[[:space:]]*['\"]\{0,1\}\([A-Za-z0-9_]*\).*/\1/p" "$project/dbt_project.yml")
cp -R "$project/." "$work/p/" 2>/dev/null || { mkdir -p "$work/p" && cp -R "$project/." "$work/p/"; }
rm -rf "$work/p/target" "$work/p/stackc_target"
cat > "$work/p/profiles.yml" <<YML
$profile:
  target: ls
  outputs:
    ls:
      type: postgres
      host: 127.0.0.1
      port: 5432
      user: postgres
      password: ""
      dbname: ls_parity
      schema: ls_parity
      threads: 1
YML

same=0
differ=0
for sel in "$@"; do
    args=()
    [ -n "$sel" ] && args=(-s "$sel")
    # dbt prints log lines and nodes on stdout; --quiet keeps the nodes.
    (cd "$work/p" && "$dbt" --quiet ls --profiles-dir . ${args[@]+"${args[@]}"} 2>/dev/null | sort) >"$work/dbt.txt" || true
    (cd "$work/p" && "$stackc" ls . --profiles-dir . ${args[@]+"${args[@]}"} 2>/dev/null | sort) >"$work/stackc.txt" || true
    if diff -u "$work/dbt.txt" "$work/stackc.txt" >"$work/diff.txt"; then
        same=$((same + 1))
        echo "same   ($(wc -l <"$work/dbt.txt") nodes) ${sel:-<all>}"
    else
        differ=$((differ + 1))
        echo "DIFFER ${sel:-<all>}"
        sed 's/^/    /' "$work/diff.txt" | head -20
    fi
done
echo "$same selectors agree, $differ differ"
[ "$differ" -eq 0 ]
