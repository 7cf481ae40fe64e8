#!/usr/bin/env bash
# The README's two commands on a fresh clone (issue 18): clones HEAD into an
# empty directory (own target directory; cargo's registry as it is), runs
# `cargo test --workspace`, then `cargo run -p sessionward-example-axum`
# until it answers `GET /`, and writes their wall times and what each
# compiled as JSON. usage: bench_fresh.sh <out.json>
# Env: BENCH_FRESH_PORT (default 18391). Takes a cold build: ~15–20 min on
# 2 CPUs. The services the tests use should be running.
set -euo pipefail
out=$(realpath -m "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
port=${BENCH_FRESH_PORT:-18391}
dir=$(mktemp -d)
trap 'kill "${demo:-}" 2>/dev/null || true; rm -rf "$dir"' EXIT
git clone --quiet "$root" "$dir/sessionward"
cd "$dir/sessionward"
unset CARGO_TARGET_DIR SESSIONWARD_REQUIRE_SERVICES

began=$(date +%s.%N)
cargo test --workspace >"$dir/test.log" 2>&1 || { tail -50 "$dir/test.log"; exit 1; }
test_s=$(echo "$(date +%s.%N) - $began" | bc)

began=$(date +%s.%N)
SESSIONWARD_PORT=$port SESSIONWARD_STORE="sqlite://$dir/demo.db?mode=rwc" \
  cargo run -p sessionward-example-axum >"$dir/run.out" 2>"$dir/run.log" &
demo=$!
until curl -fs -o /dev/null "http://127.0.0.1:$port/"; do
  kill -0 "$demo" 2>/dev/null || { cat "$dir/run.log"; exit 1; }
  sleep 0.05
done
run_s=$(echo "$(date +%s.%N) - $began" | bc)
kill "$demo"; wait "$demo" 2>/dev/null || true

python3 - "$dir/test.log" "$dir/run.log" "$test_s" "$run_s" >"$out" <<'PY'
import json, re, sys
def compiled(path):
    return [m.group(1) for m in re.finditer(r"^\s*Compiling (\S+)", open(path).read(), re.M)]
test, run = compiled(sys.argv[1]), compiled(sys.argv[2])
print(json.dumps({"test_s": float(sys.argv[3]), "test_compiled": len(test),
                  "run_s": float(sys.argv[4]), "run_compiled": len(run),
                  "run_compiled_names": run}, indent=1))
PY
cat "$out"
