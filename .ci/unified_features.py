#!/usr/bin/env python3
"""Checks that `cargo run -p <example>` resolves every dependency with the
features `cargo test --workspace` gave it, so the README's second command
reuses the first one's build (issue 18). Reads `cargo tree` only: no build.
Exit 1 names each package whose features differ; the fix is a line in
examples/build-unify/Cargo.toml."""
import subprocess
import sys


def resolved(args, edges):
    out = subprocess.run(
        ["cargo", "tree", "-f", "{p}|{f}", "--prefix", "none", "-e", edges] + args,
        capture_output=True, text=True, check=True).stdout
    features = {}
    for line in out.splitlines():
        line = line.replace(" (*)", "").strip()
        if "|" not in line:
            continue
        package, names = line.split("|", 1)
        features.setdefault(package, set()).update(n for n in names.split(",") if n)
    return features


def main(examples):
    workspace = resolved(["--workspace"], "normal,build,dev")
    drift = 0
    for example in examples:
        alone = resolved(["-p", example], "normal,build")
        for package, names in sorted(alone.items()):
            missing = workspace.get(package, set()) - names
            if missing:
                drift += 1
                print(f"{example}: {package} lacks {' '.join(sorted(missing))}")
        print(f"{example}: {len(alone)} packages checked")
    return 1 if drift else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["sessionward-example-axum", "sessionward-example-actix"]))
