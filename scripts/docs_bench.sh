#!/usr/bin/env bash
# Benchmark of the docs site on the bench's synthetic project: how long
# `stackc docs` takes, how big the page is, and how fast headless Chromium
# opens it, answers a search, and opens a node's page.
#
#   scripts/docs_bench.sh [MODELS]        (default 10000)
#
# Needs a release build (cargo build --release) and Chromium (apt-get
# install -y chromium, or STACKC_CHROMIUM=/path/to/chrome). The page
# reports its own timings as data-* attributes of <body>, in milliseconds
# since navigation start (data-ready-ms: the graph drawn and the URL's
# search or node shown) or of one step (data-search-ms, data-draw-ms).
set -euo pipefail
cd "$(dirname "$0")/.."

models="${1:-10000}"
bin=target/release/stackc
chromium="${STACKC_CHROMIUM:-chromium}"
[ -x "$bin" ] || { echo "no $bin: run cargo build --release" >&2; exit 2; }
command -v "$chromium" >/dev/null || { echo "no Chromium: apt-get install -y chromium, or set STACKC_CHROMIUM" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/stackc-docs-bench-XXXXXX")"
trap 'rm -rf "$work"' EXIT
cargo run --quiet --example bench -- --generate-only "$work/project" --sizes "$models" >&2

start=$(date +%s.%N)
"$bin" docs "$work/project" --out-dir "$work/site" >&2
end=$(date +%s.%N)
page="$work/site/index.html"
bytes=$(stat -c %s "$page")

# The page's own timings (from --dump-dom), and the wall time of a
# --screenshot run of the same URL: Chromium started, the page loaded and
# drawn, the picture taken. (The wall time of --dump-dom itself is mostly
# Chromium serializing the page's 30 MB of embedded data back out.)
chrome() {
    "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$work/profile" --window-size=1280,800 "$@" 2>/dev/null
}
open_page() {
    local url="file://$page#$1" t0 t1
    chrome --dump-dom "$url" | grep -o '<body[^>]*>' | grep -o 'data-[a-z-]*="[^"]*"' | tr '\n' ' '
    t0=$(date +%s.%N)
    chrome --screenshot="$work/shot.png" "$url" >/dev/null
    t1=$(date +%s.%N)
    printf 'screenshot-run-s="%.2f"\n' "$(echo "$t1 - $t0" | bc)"
}

echo "| step | figures |"
echo "| --- | --- |"
printf '| `stackc docs` (%s models) | %.2f s, page %s MB |\n' "$models" "$(echo "$end - $start" | bc)" "$(echo "scale=1; $bytes / 1048576" | bc)"
printf '| open + search `int_0300` | %s |\n' "$(open_page 'search=int_0300')"
printf '| open a node page | %s |\n' "$(open_page 'node=model.bench.int_03000')"
printf '| open, whole graph drawn | %s |\n' "$(open_page '')"
