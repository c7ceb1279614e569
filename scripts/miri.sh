#!/usr/bin/env bash
# Runs proto-core's lifecycle and failure tests under Miri (undefined
# behaviour, leaks, out-of-bounds), on the nightly toolchain. The property
# tests are left out: under Miri they would take hours.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "miri: adding the miri and rust-src components to the nightly toolchain"
  rustup component add --toolchain nightly miri rust-src
fi
cargo +nightly miri setup >/dev/null 2>&1 || cargo +nightly miri setup
cargo +nightly miri test -p cstream-proto-core --test lifecycle --test failures
