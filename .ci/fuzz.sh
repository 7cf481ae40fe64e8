#!/usr/bin/env bash
# Runs every cargo-fuzz target in session-core/fuzz/ for a bounded time (or
# to a fixed number of executions) and summarises.
#
#   .ci/fuzz.sh                 # all targets, 60 s each
#   FUZZ_SECONDS=300 .ci/fuzz.sh access_token refresh_token
#   FUZZ_RUNS=1000000 .ci/fuzz.sh   # every target to 1,000,000 executions
#
# Environment:
#   FUZZ_RUNS       executions per target (libFuzzer -runs); unset: no count,
#                   the run ends after FUZZ_SECONDS
#   FUZZ_SECONDS    seconds per target (libFuzzer -max_total_time), default 60;
#                   with FUZZ_RUNS it is only a safety cap, default 1800. A
#                   target stopped by the cap before FUZZ_RUNS is reported
#                   (and makes the script exit non-zero)
#   FUZZ_SANITIZER  address (default) or none (fallback where the ASan
#                   runtime is unavailable; faster, but finds no memory errors)
#   FUZZ_MAX_LEN    longest generated input in bytes, default 4096
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz passes -Z flags
# to rustc, which only nightly accepts; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain take them, so no nightly toolchain is required.
#
# Corpora grow in session-core/fuzz/corpus/<target>/ (seeds are read from
# session-core/fuzz/seeds/<target>/), crash inputs are kept in session-core/fuzz/artifacts/<target>/,
# full logs in session-core/fuzz/logs/<target>.log. Prints a Markdown table of total
# executions, executions per second and crashes per target. Exits non-zero
# if any target crashed (or failed to build or run).
set -uo pipefail

FUZZ_RUNS="${FUZZ_RUNS:-}"
if [ -n "$FUZZ_RUNS" ]; then
    FUZZ_SECONDS="${FUZZ_SECONDS:-1800}"
else
    FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
fi
case "$FUZZ_RUNS$FUZZ_SECONDS" in
    *[!0-9]*) echo "FUZZ_RUNS and FUZZ_SECONDS must be whole numbers" >&2; exit 2 ;;
esac
FUZZ_SANITIZER="${FUZZ_SANITIZER:-address}"
FUZZ_MAX_LEN="${FUZZ_MAX_LEN:-4096}"
ALL_TARGETS=(access_token refresh_token action_token user_agent forwarded_for policy_ids web_extraction)

cd "$(dirname "$0")/../session-core/fuzz" || exit 2
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
fi

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${ALL_TARGETS[@]}")
build_flags=(--release --debug-assertions --sanitizer "$FUZZ_SANITIZER")
limit_flags=(-max_total_time="$FUZZ_SECONDS")
[ -n "$FUZZ_RUNS" ] && limit_flags+=(-runs="$FUZZ_RUNS")

echo "== building ${targets[*]} (sanitizer: $FUZZ_SANITIZER)" >&2
if ! cargo fuzz build "${build_flags[@]}" >&2; then
    echo "build failed" >&2
    exit 2
fi

mkdir -p logs
status=0
rows=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    log="logs/$t.log"
    echo "== $t: ${FUZZ_RUNS:+$FUZZ_RUNS runs, at most }${FUZZ_SECONDS}s" >&2
    # The outer timeout is a safety net only: libFuzzer stops itself after
    # -runs or -max_total_time; a slow input is reported by -timeout as a crash.
    start=$(date +%s.%N)
    timeout --signal=INT --kill-after=30 $((FUZZ_SECONDS + 120)) \
        cargo fuzz run "${build_flags[@]}" "$t" "corpus/$t" "seeds/$t" -- \
        "${limit_flags[@]}" -max_len="$FUZZ_MAX_LEN" \
        -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1
    rc=$?
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')

    # libFuzzer's final statistics; fall back to the "#N DONE" line.
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    if [ -z "$execs" ]; then
        done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n1)
        execs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$done_line")
        rate=$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$done_line")
    fi
    cov=$(grep -E '^#[0-9]+' "$log" | tail -n1 | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
    slowest=$(sed -n 's/^stat::slowest_unit_time_sec: *//p' "$log" | tail -n1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n1)
    corpus=$(find "corpus/$t" -type f | wc -l)
    after=$(find "artifacts/$t" -type f | wc -l)
    crashes=$((after - before))
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes="run failed (exit $rc), see fuzz/$log"
        status=1
    elif [ "$crashes" -ne 0 ]; then
        status=1
        echo "!! $t crashed; inputs kept in session-core/fuzz/artifacts/$t/" >&2
        grep -E 'panicked at|ERROR: (libFuzzer|AddressSanitizer)' "$log" | head -n3 >&2
    fi
    if [ -n "$FUZZ_RUNS" ] && [ "$crashes" = 0 ] && [ "${execs:-0}" -lt "$FUZZ_RUNS" ]; then
        crashes="0 (stopped by the ${FUZZ_SECONDS} s cap before $FUZZ_RUNS runs)"
        status=1
    fi
    rows+=("| \`$t\` | $FUZZ_SANITIZER | ${secs} s | ${execs:-?} | ${rate:-?} | ${slowest:-?} s | ${rss:-?} MB | ${cov:-?} | $corpus | $crashes |")
done

echo
echo "| Target | Sanitizer | Time | Total execs | Execs/s | Slowest input | Peak RSS | Coverage (cov) | Corpus | Crashes |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit $status
