#!/usr/bin/env bash
# Every published crate packages and its packaged sources build
# (`cargo package` verifies each against the others through a temporary
# local registry); the bundled data's licences travel in the packages.
set -euo pipefail
cd "$(dirname "$0")/.."

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
