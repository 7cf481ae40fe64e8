#!/usr/bin/env python3
"""Demo start time (issue 18): from `cargo run -p sessionward-example-axum`
(already built, the README's debug build) to the first answered `GET /`,
and the first sign-in after it (which may wait for the User-Agent regexes
compiled in the background). RUNS runs, each on a fresh SQLite file.

usage: bench_start.py <out.json>   (run from the repository root)
env: BENCH_START_RUNS (default 5), BENCH_START_PORT (default 18390)."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

RUNS = int(os.environ.get("BENCH_START_RUNS", "5"))
PORT = int(os.environ.get("BENCH_START_PORT", "18390"))
BASE = f"http://127.0.0.1:{PORT}"


def answered(url, data=None):
    try:
        req = urllib.request.Request(url, data=data, headers={
            "Content-Type": "application/json", "Origin": BASE,
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, ConnectionError):
        return None


def one_run(store_dir):
    env = dict(os.environ, SESSIONWARD_PORT=str(PORT), RUST_LOG="warn",
               SESSIONWARD_STORE=f"sqlite://{store_dir}/demo.db?mode=rwc",
               SESSIONWARD_TRANSPORT="bearer")
    began = time.monotonic()
    proc = subprocess.Popen(["cargo", "run", "--quiet", "-p", "sessionward-example-axum"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while answered(f"{BASE}/") != 200:
            if proc.poll() is not None or time.monotonic() - began > 300:
                raise RuntimeError("the demo did not start")
            time.sleep(0.02)
        serving = time.monotonic() - began
        login_began = time.monotonic()
        status = answered(f"{BASE}/login", json.dumps(
            {"username": "alice", "password": "alice-password"}).encode())
        first_login = time.monotonic() - login_began
        if status != 200:
            raise RuntimeError(f"the first sign-in answered {status}")
        return {"serving_s": serving, "first_login_s": first_login, "login_status": status}
    finally:
        proc.terminate()
        proc.wait()


def main(out_path):
    subprocess.run(["cargo", "build", "--quiet", "-p", "sessionward-example-axum"], check=True)
    runs = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as d:
            runs.append(one_run(d))
            print(runs[-1], file=sys.stderr)
    result = {
        "runs": runs,
        "serving_s": statistics.median(r["serving_s"] for r in runs),
        "first_login_s": statistics.median(r["first_login_s"] for r in runs),
    }
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
