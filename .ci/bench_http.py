#!/usr/bin/env python3
"""HTTP comparison over real TCP (issue 18): starts every case of
examples/peer-bench/src/bin/httpd.rs on its own loopback port, then runs
`wrk` against each in turn, ROUNDS times interleaved, and writes the
medians as JSON.

usage: bench_http.py <httpd binary> <out.json>
env: BENCH_HTTP_SECS (per measurement, default 5), BENCH_HTTP_ROUNDS
(default 3), BENCH_HTTP_CONNECTIONS (default 32), BENCH_HTTP_PORT (first
port, default 18400).

A measurement with any non-2xx answer or socket error is a failure, not a
number: a credential the server refused would otherwise look fast."""
import json
import os
import re
import statistics
import subprocess
import sys
import time

SECS = int(os.environ.get("BENCH_HTTP_SECS", "5"))
ROUNDS = int(os.environ.get("BENCH_HTTP_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_HTTP_CONNECTIONS", "32"))
FIRST_PORT = int(os.environ.get("BENCH_HTTP_PORT", "18400"))

# (measurement name, server case, path)
MEASUREMENTS = [
    ("axum-jwt", "axum-jwt", "/hello"),
    ("axum-get-jwt", "axum-get-jwt", "/hello"),
    ("axum-cached", "axum-cached", "/hello"),
    ("axum-strict", "axum-strict", "/hello"),
    ("axum-login", "axum-login", "/hello"),
    ("axum-list-hello", "axum-list", "/hello"),
    ("axum-list", "axum-list", "/auth/sessions"),
    ("actix-jwt", "actix-jwt", "/hello"),
    ("actix-get-jwt", "actix-get-jwt", "/hello"),
    ("actix-cached", "actix-cached", "/hello"),
    ("actix-strict", "actix-strict", "/hello"),
    ("actix-list-hello", "actix-list", "/hello"),
    ("actix-list", "actix-list", "/auth/sessions"),
]

UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def millis(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"latency {text!r}")
    return float(m.group(1)) * UNIT[m.group(2)]


def wrk(port, header, path):
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECS}s", "--latency", "-H", header,
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True, timeout=SECS + 60).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk on {path} (port {port}) saw errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {p: millis(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M)}
    return {"rps": rps, "p50_ms": pct["50"], "p90_ms": pct["90"], "p99_ms": pct["99"]}


def start(binary, case, port):
    proc = subprocess.Popen([binary, case, str(port)], stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    line = proc.stdout.readline()
    if not line.startswith("ready ") or time.time() > deadline:
        proc.kill()
        raise RuntimeError(f"{case} did not start: {line!r}")
    return proc, line[len("ready "):].strip()


def main(binary, out_path):
    cases = sorted({case for _, case, _ in MEASUREMENTS})
    servers = {}
    try:
        for i, case in enumerate(cases):
            port = FIRST_PORT + i
            proc, header = start(binary, case, port)
            servers[case] = (proc, port, header)
            print(f"started {case} on {port}", file=sys.stderr)
        runs = {name: [] for name, _, _ in MEASUREMENTS}
        for r in range(ROUNDS):
            for name, case, path in MEASUREMENTS:
                _, port, header = servers[case]
                runs[name].append(wrk(port, header, path))
                print(f"round {r + 1} {name}: {runs[name][-1]}", file=sys.stderr)
        result = {
            "secs": SECS, "rounds": ROUNDS, "connections": CONNECTIONS,
            "cases": {
                name: {key: statistics.median(run[key] for run in results) for key in results[0]}
                for name, results in runs.items()
            },
        }
        with open(out_path, "w") as f:
            json.dump(result, f, indent=1)
    finally:
        for proc, _, _ in servers.values():
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
