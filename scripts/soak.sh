#!/usr/bin/env bash
# The full soak: 500 runs on Docker and on Podman, 16 at a time, mixing exit
# codes, 4 MiB outputs and cancellations; prints its figures, fails on any
# lost byte, wrong exit code, leaked container or growing memory.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/engines.sh up >/dev/null
cargo run -q --release -p cstream-engine --example soak -- "${1:-500}"
