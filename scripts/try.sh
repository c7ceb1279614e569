#!/usr/bin/env bash
# Sets up an engine and the test image when missing, then runs a command in a
# container with cstream and streams it: its output to stdout and stderr, the
# lifecycle events to stderr, its exit code as ours.
#
#   scripts/try.sh                                   a short demo
#   scripts/try.sh cstream-test:latest sh -c 'echo hi; exit 3'
#   CSTREAM_ENGINE=unix:///run/podman/podman.sock scripts/try.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/engines.sh up >/dev/null
cargo build -q -p cstream-engine --example run
if [ $# -eq 0 ]; then
  set -- cstream-test:latest sh -c 'for i in 1 2 3; do echo "hello from a container ($i)"; sleep 0.3; done; echo "and a line on stderr" >&2; exit 3'
fi
exec target/debug/examples/run "$@"
