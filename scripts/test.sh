#!/usr/bin/env bash
# Sets up what the tests need and runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets
cargo test --workspace --doc
