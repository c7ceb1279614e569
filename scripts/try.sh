#!/usr/bin/env bash
# Sets up an engine and the test image when missing, builds the cstream
# command, and runs a command in a container with it, streamed: the process's
# output to stdout and stderr, the lifecycle (--verbose) to stderr, its exit
# code as cstream's.
#
#   scripts/try.sh                                   a short demo
#   scripts/try.sh cstream-test:latest sh -c 'echo hi; exit 3'
#   scripts/try.sh --engine unix:///run/podman/podman.sock cstream-test:latest true
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/engines.sh up >/dev/null
cargo build -q -p cstream-cli
if [ $# -eq 0 ]; then
  set -- cstream-test:latest sh -c 'for i in 1 2 3; do echo "hello from a container ($i)"; sleep 0.3; done; echo "and a line on stderr" >&2; exit 3'
fi
exec target/debug/cstream run --verbose "$@"
