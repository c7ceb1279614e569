#!/usr/bin/env bash
# Sets up what the tests need (Docker 20.10, Docker 26 and Podman with the test
# image, see scripts/engines.sh; two registries on loopback with the image
# pushed, see scripts/registry.sh; proto-core built for WebAssembly, see
# scripts/wasm.sh) and runs them all. The engine tests fail, loudly, when
# an engine cannot be reached.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/engines.sh up
scripts/swarm.sh up
scripts/registry.sh up
scripts/sshd.sh up
# The wasm-host tests load the core built for WebAssembly.
scripts/wasm.sh
# The interactive terminal test drives cstream in tmux.
command -v tmux >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null; }
cargo test --workspace --all-targets
cargo test --workspace --doc
