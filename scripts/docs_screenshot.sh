#!/usr/bin/env bash
# Regenerates docs/docs-site.png, the README's picture of `stackc docs` on
# the sample project: the lineage of fact_sales highlighted, its page open.
#
#   scripts/docs_screenshot.sh     (after cargo build)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${STACKC_BIN:-target/debug/stackc}"
chromium="${STACKC_CHROMIUM:-chromium}"
work="$(mktemp -d "${TMPDIR:-/tmp}/stackc-docs-shot-XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$bin" docs project_template --out-dir "$work/site"
"$chromium" --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
    --user-data-dir="$work/profile" --window-size=1500,860 \
    --screenshot="$work/shot.png" "file://$work/site/index.html#node=model.analytics.fact_sales" 2>/dev/null
mkdir -p docs
cp "$work/shot.png" docs/docs-site.png
echo "wrote docs/docs-site.png"
