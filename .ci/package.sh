#!/usr/bin/env bash
# Every published crate packages and its packaged sources build
# (`cargo package` verifies each against the others through a temporary
# local registry); the bundled data's licences travel in the packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# `cargo package` verifies through a temporary local registry. Cargo treats
# registry crates as immutable: what it unpacked (under $CARGO_HOME) and
# compiled (in the target dir) for sessionward-core 0.1.0 is reused by a
# later run at the same version, which then builds the adapters against the
# old core. So: drop the unpacked copies (none of our crates come from
# crates.io) and verify in a target dir of its own, emptied first.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
rm -rf "$cargo_home"/registry/src/*/sessionward-* "$cargo_home"/registry/cache/*/sessionward-*
export CARGO_TARGET_DIR=target/package-verify
rm -rf "$CARGO_TARGET_DIR"

cargo package --quiet --allow-dirty \
  -p sessionward-core -p sessionward-sqlx -p sessionward-redis \
  -p sessionward-axum -p sessionward-actix

for crate in session-core session-store-sqlx session-store-redis adapter-axum adapter-actix; do
  for file in LICENSE-MIT LICENSE-APACHE; do
    test -f "$crate/$file" || { echo "$crate lacks $file" >&2; exit 1; }
  done
done
listing=$(cargo package --list --allow-dirty -p sessionward-core)
for file in data/uap-core-LICENSE data/geoip/LICENSE-APACHE data/geoip/LICENSE-MIT data/README.md; do
  grep -qx "$file" <<<"$listing" || { echo "sessionward-core's package lacks $file" >&2; exit 1; }
done
