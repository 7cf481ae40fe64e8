#!/usr/bin/env bash
# Side-by-side benchmarks (issue 9): sessionward vs session-guard 0.3.2,
# tower-sessions 0.14 (bare store load/save/create) and the floors (raw
# Redis GET, raw Postgres SELECT 1, raw jsonwebtoken verify), all in one run
# on the local Redis and Postgres. Writes docs/benchmarks.md.
#
# Bounded: criterion 1 s warm-up + 2 s measurement per benchmark (~51
# benchmarks), throughput BENCH_THROUGHPUT_SECS per case (default 3).
# Env: BENCH_SEED (sessions pre-seeded per library/store, default 10000),
# BENCH_MEM_SESSIONS (default 10000), BENCH_TOTAL_MAX (top step of the
# "total sessions in Redis" scaling phase: 10k, 100k, ... up to it, default
# 1000000; 0 skips the phase; 1M sessions take ~1 GiB of Redis memory while
# the phase runs), CARGO_TARGET_DIR (default examples/peer-bench/target).
# To run the total-sessions phase alone:
#   (cd examples/peer-bench && BENCH_ONLY=total cargo run --release --bin load -- out.json)
# Data: Postgres databases sessionward_bench / sessionguard_bench (dropped
# and recreated), Redis prefixes swbench:, sgbench:, swmem:, sgmem:,
# swtotal: (SCAN + UNLINK; database 0 is never flushed).
# tower-sessions: Postgres database towersessions_bench (dropped and
# recreated) and Redis database index 3, because its Redis store has no key
# prefix: FLUSHDB on index 3 only, at setup and at the end (nothing else in
# this repository selects index 3).
# Issue 18 phases: HTTP over real TCP with `wrk` (`.ci/bench_http.py`, the
# servers of examples/peer-bench/src/bin/httpd.rs, Redis prefixes
# swhttp-*: and database index 3 again), the demo's start time
# (`.ci/bench_start.py`, the workspace's debug build in
# BENCH_WORKSPACE_TARGET, default ./target) and the README's two commands
# on a fresh clone (`.ci/bench_fresh.sh`, a cold build: ~15-20 min;
# BENCH_FRESH=0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
crate=examples/peer-bench
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/$crate/target}
out=$CARGO_TARGET_DIR/bench-out
mkdir -p "$out"

echo "== services"
.ci/services.sh || true

echo "== build"
(cd $crate && cargo build --release --bins --benches --quiet)
command -v wrk >/dev/null || { echo "wrk is needed (Debian package wrk)" >&2; exit 1; }

echo "== criterion (latency)"
rm -rf "$CARGO_TARGET_DIR/criterion"
(cd $crate && timeout 1800 cargo bench --quiet --bench peers -- \
  --warm-up-time 1 --measurement-time 2 --noplot) 2>&1 | tee "$out/criterion.log"

echo "== throughput, Redis memory, scaling (per user, total sessions)"
(cd $crate && timeout 1800 cargo run --release --quiet --bin load -- "$out/load.json") \
  2>"$out/load.err" >/dev/null || { cat "$out/load.err"; exit 1; }

echo "== heap per session (memory stores)"
(cd $crate && timeout 300 cargo run --release --quiet --bin heap) > "$out/heap.json"

echo "== HTTP over real TCP (wrk)"
timeout 900 python3 .ci/bench_http.py "$CARGO_TARGET_DIR/release/httpd" "$out/http.json"

echo "== demo start"
CARGO_TARGET_DIR=${BENCH_WORKSPACE_TARGET:-$root/target} timeout 1800 \
  python3 .ci/bench_start.py "$out/start.json"

fresh=-
if [ "${BENCH_FRESH:-1}" != 0 ]; then
  echo "== the README's two commands on a fresh clone"
  timeout 3600 .ci/bench_fresh.sh "$out/fresh.json"
  fresh=$out/fresh.json
fi

echo "== report"
python3 .ci/bench_report.py "$CARGO_TARGET_DIR/criterion" "$out/load.json" "$out/heap.json" \
  "${BENCH_SEED:-10000}" "$0" "$out/http.json" "$out/start.json" "$fresh" > docs/benchmarks.md
echo "wrote docs/benchmarks.md"
