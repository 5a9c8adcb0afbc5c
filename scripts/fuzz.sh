#!/usr/bin/env bash
# Runs each cargo-fuzz target of fuzz/ for a bounded time, seeded from the
# repository's fixtures: ./scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# (default 30 s each, every target). A crash stops the script and leaves its
# input under fuzz/artifacts/<target>/; make it a fixture and fix it.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a C++ compiler for
# libFuzzer. cargo-fuzz passes nightly flags; RUSTC_BOOTSTRAP lets the
# stable toolchain take them. Not part of .ci/run: a build for fuzzing
# alone takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(settings_toml schema_yaml model seed_csv project)
fi
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz

corpus=fuzz/corpus
fixtures=(tests/fixtures/* tests/fixtures_apply/* project_template)

# Copies every file of the fixtures matching a find pattern into a corpus,
# named by its checksum (libFuzzer's own naming).
seed() {
    local dir=$corpus/$1
    shift
    mkdir -p "$dir"
    [ -n "$(ls -A "$dir")" ] && return
    # NUL-separated: a fixture's path may hold a newline (err_e0010_*).
    find "${fixtures[@]}" -path '*/target' -prune -o -type f "$@" -print0 |
        while IFS= read -r -d '' f; do
            cp "$f" "$dir/$(sha1sum <"$f" | cut -c1-40)"
        done
}

# A whole project as the `project` target reads it: files in its order,
# separated by lines `====`.
seed_projects() {
    local dir=$corpus/project
    mkdir -p "$dir"
    [ -n "$(ls -A "$dir")" ] && return
    local p out first pattern
    for p in "${fixtures[@]}"; do
        [ -f "$p/stackc.toml" ] || continue
        out=$(mktemp)
        cat "$p/stackc.toml" >"$out"
        for pattern in 'models/staging/*.sql' 'models/marts/*.sql' 'models/*/*.yml' \
            'macros/*.sql' 'seeds/*.csv' 'migrations/V*.sql' 'tests/*.sql'; do
            printf '\n====\n' >>"$out"
            # shellcheck disable=SC2086 # the pattern is meant to expand
            first=$(ls $p/$pattern 2>/dev/null | head -n 1 || true)
            [ -n "$first" ] && cat "$first" >>"$out"
        done
        mv "$out" "$dir/$(basename "$p")"
    done
}

seed settings_toml -name stackc.toml
seed schema_yaml -path '*/models/*' -name '*.yml'
seed model \( -path '*/models/*' -o -path '*/tests/*' -o -path '*/macros/*' \) -name '*.sql'
seed seed_csv -name '*.csv'
seed_projects

status=0
for target in "${targets[@]}"; do
    echo "== $target: ${seconds} s"
    # -timeout: one input taking longer than 10 s is a hang, reported as a crash.
    log=$(mktemp)
    if cargo fuzz run --sanitizer none "$target" "$corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
        -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units)' "$log" || true
    else
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" || tail -n 20 "$log"
        echo "crash or build failure in $target (input under fuzz/artifacts/$target/)" >&2
        status=1
    fi
    rm -f "$log"
done
exit $status
