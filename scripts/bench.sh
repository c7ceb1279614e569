#!/usr/bin/env bash
# Benchmarks: cstream side by side with bollard and the docker CLI, on the real engines.
#
#   scripts/bench.sh           everything: about 15 minutes on a 2-core machine
#   scripts/bench.sh --quick   each item briefly: about 2 minutes (for CI); no 64 at once,
#                              and item 6's 32 at once on Docker only
#
# Brings the engines and the swarm up (scripts/engines.sh up, scripts/swarm.sh up), builds
# crates/bench in release mode, runs items 1-4 and 6 (run latency on Docker and Podman, 32 and
# 64 runs at once, streaming throughput and client CPU, client peak RSS, client CPU per run of
# `true`; the three clients interleaved, medians), item 8 (cstream and bollard beside the
# floor: a hand-written client that does nothing but the socket work, to show what any client
# on Tokio spends on the same requests and bytes) and item 7 (runs on the three-node swarm
# against one engine, cstream only; skipped when the swarm manager's socket is absent), then
# the decoder microbenchmark (item 5, criterion), and prints every figure as Markdown tables,
# then one table of the targets with a verdict each.
# BENCHMARKS.md at the repository root holds the latest figures and what they mean.
#
# Environment (optional): CARGO_TARGET_DIR (default ./target), BENCH_ARGS (more arguments for
# `cstream-bench all`, such as `--no-podman`, `--no-swarm` or `--items 3,4`).
set -Eeuo pipefail
trap 'printf "[bench] ERROR: command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."

quick=()
case ${1:-} in
  --quick) quick=(--quick) ;;
  '') ;;
  -h | --help)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: scripts/bench.sh [--quick]" >&2
    exit 2
    ;;
esac

log() { printf '[bench] %s\n' "$*" >&2; }

scripts/engines.sh up >&2
if [[ " ${BENCH_ARGS:-} " != *" --no-swarm "* ]] && ! scripts/swarm.sh up >&2; then
  log "the swarm did not come up: item 7 is skipped if its manager's socket is absent, fails otherwise"
fi
target=${CARGO_TARGET_DIR:-$PWD/target}
log "building crates/bench (release) into $target"
cargo build --release --quiet -p cstream-bench
cargo bench --quiet -p cstream-bench --bench decoder --no-run 2>/dev/null
bench=$target/release/cstream-bench
# The targets of items 1-4 and 6, printed with the decoder's after item 5.
targets_file=$(mktemp)
trap 'rm -f "$targets_file"' EXIT

printf 'commit %s%s, %s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
  "$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')" "$(rustc --version)"
status=0
# shellcheck disable=SC2086 # BENCH_ARGS is a list of words.
"$bench" all "${quick[@]}" --targets-out "$targets_file" ${BENCH_ARGS:-} || status=$?

log "decoder microbenchmark (criterion)"
if ((${#quick[@]})); then
  criterion_args=(--warm-up-time 1 --measurement-time 2)
else
  criterion_args=(--warm-up-time 2 --measurement-time 5)
fi
cargo bench --quiet -p cstream-bench --bench decoder -- "${criterion_args[@]}" >&2
"$bench" decoder-summary "$target/criterion" --targets "$targets_file"
exit "$status"
