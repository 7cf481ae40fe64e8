#!/usr/bin/env bash
# Bounded soak/load run against the axum example app (not part of CI's test
# command). While wrk hammers authenticate (GET /api/me) and list
# (GET /auth/sessions) with one bearer session, a second client loops
# login → refresh → list → logout as another user. Reports requests/s,
# p50/p99 latency, unexpected statuses, and the server's RSS before/after.
#
#   .ci/soak.sh                 # 30 s, store "memory"
#   SOAK_SECONDS=120 SOAK_STORE=sqlite:///tmp/soak.sqlite?mode=rwc .ci/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN=${SOAK_SECONDS:-30}
STORE=${SOAK_STORE:-memory}
PROFILE=${SOAK_PROFILE:-release}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 2; }

cargo build -q --profile "$PROFILE" -p sessionward-example-axum
dir=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
bin="${CARGO_TARGET_DIR:-target}/$dir/sessionward-example-axum"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
work=$(mktemp -d)
# The demo users log in (with --no-demo there are none).
"$bin" --port "$port" --store "$STORE" --transport bearer --demo >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fs "$base/api/config" >/dev/null 2>&1 && break; sleep 0.1; done

rss() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
login() { curl -fs -X POST "$base/login" -H 'content-type: application/json' -d "{\"username\":\"$1\",\"password\":\"$1-password\"}"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

token=$(login alice | field access_token)
rss_before=$(rss)

cat >"$work/mix.lua" <<LUA
local n = 0
request = function()
  n = n + 1
  local path = (n % 5 == 0) and "/auth/sessions" or "/api/me"
  return wrk.format("GET", path, { ["Authorization"] = "Bearer $token" })
end
done = function(summary, latency, requests)
  io.write(string.format("wrk: %d requests, %d non-2xx/3xx, %d socket errors\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("wrk: p50 %.0f us, p99 %.0f us, max %.0f us\n",
    latency:percentile(50), latency:percentile(99), latency.max))
end
LUA

# The churn client: login → refresh → list → logout as bob, until time is up.
(
  cycles=0; bad=0; end_at=$(( $(date +%s) + SECONDS_TO_RUN ))
  while [ "$(date +%s)" -lt "$end_at" ]; do
    body=$(login bob) || { bad=$((bad+1)); continue; }
    access=$(echo "$body" | field access_token); refresh=$(echo "$body" | field refresh_token)
    new=$(curl -fs -X POST "$base/auth/refresh" -H 'content-type: application/json' -d "{\"refresh_token\":\"$refresh\"}") || bad=$((bad+1))
    access=$(echo "$new" | field access_token 2>/dev/null || echo "$access")
    curl -fs "$base/auth/sessions" -H "authorization: Bearer $access" >/dev/null || bad=$((bad+1))
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/auth/logout" -H "authorization: Bearer $access")
    [ "$code" = 204 ] || bad=$((bad+1))
    after=$(curl -s -o /dev/null -w '%{http_code}' "$base/api/me" -H "authorization: Bearer $access")
    [ "$after" = 401 ] || bad=$((bad+1))
    cycles=$((cycles+1))
  done
  echo "churn: $cycles login/refresh/list/logout cycles, $bad unexpected answers"
) &
churn=$!

wrk -t2 -c8 -d"${SECONDS_TO_RUN}s" -s "$work/mix.lua" "$base" | grep -E '^(wrk:|Requests/sec)'
wait $churn
rss_after=$(rss)
echo "server RSS: ${rss_before} kB before, ${rss_after} kB after"
# Flat memory: allow warm-up (allocator arenas, caches) but not growth with load.
if [ "$rss_after" -gt $(( rss_before * 3 / 2 + 16384 )) ]; then
  echo "memory grew from ${rss_before} kB to ${rss_after} kB" >&2; exit 1
fi
if grep -qiE 'panicked|thread .* panicked' "$work/server.log"; then echo "server log shows a panic" >&2; exit 1; fi
