#!/usr/bin/env bash
# The feature matrix: the core kernel alone, each feature alone, all of
# them; and the kernel's dependency tree without ua-parser or maxminddb.
set -euo pipefail
cd "$(dirname "$0")/.."

core=sessionward-core
echo "-- $core --no-default-features"
cargo check -p "$core" --no-default-features --quiet
if cargo tree -p "$core" --no-default-features -e normal | grep -E '^.*(ua-parser|maxminddb) '; then
  echo "the kernel must not depend on ua-parser or maxminddb" >&2
  exit 1
fi
for feature in web user-agent geoip risk metrics utoipa bundled-test-data testing; do
  echo "-- $core --no-default-features --features $feature"
  cargo check -p "$core" --no-default-features --features "$feature" --quiet
done
echo "-- $core --all-features"
cargo check -p "$core" --all-features --all-targets --quiet

for dialect in postgres mysql sqlite; do
  echo "-- sessionward-sqlx --no-default-features --features $dialect"
  cargo check -p sessionward-sqlx --no-default-features --features "$dialect" --quiet
done
echo "-- sessionward-sqlx --all-features"
cargo check -p sessionward-sqlx --all-features --quiet

for adapter in sessionward-axum sessionward-actix; do
  echo "-- $adapter --all-features"
  cargo check -p "$adapter" --all-features --quiet
done

# Each published crate documented on its own, as docs.rs builds it (the
# core with all its features, as its docs.rs metadata asks).
echo "-- rustdoc per crate"
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p "$core" --all-features
for crate in sessionward-sqlx sessionward-redis sessionward-axum sessionward-actix; do
  RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p "$crate"
done

# The README's second command must reuse the first one's build.
echo "-- example features unified with the workspace test build"
python3 .ci/unified_features.py
