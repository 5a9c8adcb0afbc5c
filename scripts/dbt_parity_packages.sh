#!/usr/bin/env bash
# Parity check by hand (not run by CI) for a project with an installed
# package: `tests/fixtures/ok_dbt_package_models` (a package of our own with
# models, a seed, vars, generic tests and macros that read `model` and
# `graph`) built by `dbt build` and by `stackc apply`, each into a fresh
# database; prints every difference in relations, columns, types and rows.
#
#   scripts/dbt_parity_packages.sh
#
# Same requirements as scripts/dbt_parity.sh, which it runs.
set -euo pipefail
here=$(dirname "$0")
exec "$here/dbt_parity.sh" "$here/../tests/fixtures/ok_dbt_package_models" analytics
