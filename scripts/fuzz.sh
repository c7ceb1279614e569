#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30), starting from the
# committed seeds (fuzz/seeds/<target>/, which every target must have). A
# longer hunt: scripts/fuzz.sh 3600
# Fails, saying why, when the targets cannot be listed or a seed corpus is
# missing or empty: it never passes having fuzzed nothing.
# A crash leaves its input in fuzz/artifacts/<target>/; turn it into a
# regression test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: the nightly toolchain is needed (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

cd fuzz
if ! targets=$(cargo +nightly fuzz list); then
  echo "fuzz: 'cargo +nightly fuzz list' failed; nothing was fuzzed" >&2
  exit 1
fi
if [ -z "$targets" ]; then
  echo "fuzz: 'cargo +nightly fuzz list' found no targets; nothing was fuzzed" >&2
  exit 1
fi
for target in $targets; do
  if [ -z "$(ls -A "seeds/$target" 2>/dev/null)" ]; then
    echo "fuzz: no seed corpus for $target: fuzz/seeds/$target/ is missing or empty" >&2
    exit 1
  fi
done
for target in $targets; do
  corpus=$(mktemp -d)
  cp seeds/"$target"/* "$corpus"/
  echo "fuzz: $target for ${seconds}s"
  if ! cargo +nightly fuzz run "$target" "$corpus" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$corpus.log" 2>&1; then
    tail -40 "$corpus.log"
    echo "fuzz: $target FAILED; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^(stat::number_of_executed_units|Done)' "$corpus.log" | tail -1
  rm -rf "$corpus" "$corpus.log"
done
