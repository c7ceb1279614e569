#!/usr/bin/env bash
# Build cstream's sans-IO core for WebAssembly: the cstream-wasm crate (proto-core behind a small
# C ABI) for wasm32-unknown-unknown, optimised for size.
#
#   scripts/wasm.sh        install the toolchain when missing, build, print the module's path and size
#
# The module is left at target/wasm/cstream_wasm.wasm (CSTREAM_WASM_OUT to change it), where the
# cstream-wasm-host tests read it. Idempotent: a second run installs nothing and rebuilds nothing.
#
# The rustup toolchains here have no wasm32 standard library, so this uses Debian's rustc 1.96
# (package rustc-web) with its library sources (rust-web-src) and -Zbuild-std, and LLVM 22's
# wasm-ld (lld-22, the LLVM rustc 1.96 is built on; lld 14's wasm-ld lacks __heap_end, which the
# dlmalloc allocator needs). Runs as root on Debian 12, like scripts/engines.sh.
#
# Environment (optional):
#   CSTREAM_WASM_TARGET_DIR  cargo's target dir for this build, default target/wasm (kept apart
#                            from the normal build's, so the two never wait on each other's lock)
#   CSTREAM_WASM_OUT         where to copy the module, default $CSTREAM_WASM_TARGET_DIR/cstream_wasm.wasm
#   CSTREAM_WASM_JOBS        cargo -j, default 2
set -Eeuo pipefail
trap 'printf "[wasm] ERROR: command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=${CSTREAM_WASM_TARGET_DIR:-$ROOT/target/wasm}
OUT=${CSTREAM_WASM_OUT:-$TARGET_DIR/cstream_wasm.wasm}
JOBS=${CSTREAM_WASM_JOBS:-2}
RUSTC_WEB=/usr/bin/rustc
LINKER=wasm-ld-22
TARGET=wasm32-unknown-unknown
PROFILE=release-wasm

log() { printf '[wasm] %s\n' "$*" >&2; }
die() { printf '[wasm] ERROR: %s\n' "$*" >&2; exit 1; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for pkg in rustc-web rust-web-src lld-22; do
  installed "$pkg" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; install them as root: apt-get install -y ${missing[*]}"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -x "$RUSTC_WEB" ] || die "$RUSTC_WEB is missing after installing rustc-web"
command -v "$LINKER" >/dev/null || die "$LINKER is missing after installing lld-22"
SYSROOT=$("$RUSTC_WEB" --print sysroot)
[ -f "$SYSROOT/lib/rustlib/src/rust/library/core/Cargo.toml" ] || die "no library sources under $SYSROOT (rust-web-src)"

log "building cstream-wasm with $("$RUSTC_WEB" --version)"
cd "$ROOT"
# Names stripped (the name section is as large as the code); panics were traps already
# (the crate's panic handler), immediate-abort also drops their messages from core.
RUSTC="$RUSTC_WEB" \
  RUSTC_BOOTSTRAP=1 \
  RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" \
  CARGO_PROFILE_RELEASE_WASM_STRIP=symbols \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$LINKER" \
  CARGO_TARGET_DIR="$TARGET_DIR" \
  cargo build -j "$JOBS" -p cstream-wasm --profile "$PROFILE" \
  -Zbuild-std=core,alloc --target "$TARGET"

BUILT=$TARGET_DIR/$TARGET/$PROFILE/cstream_wasm.wasm
[ -f "$BUILT" ] || die "cargo finished but $BUILT is missing"
mkdir -p "$(dirname "$OUT")"
cp "$BUILT" "$OUT" # a fresh copy: its time tells the tests it is not stale
size=$(stat -c %s "$OUT")
printf 'cstream_wasm.wasm: %s bytes (%s KiB) at %s\n' "$size" "$(( (size + 1023) / 1024 ))" "$OUT"
