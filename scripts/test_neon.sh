#!/usr/bin/env bash
# Runs mote-kernels' tests for aarch64 (the NEON variants) under qemu-user: cross-links with
# aarch64-linux-gnu-gcc and runs the test binary through `qemu-aarch64 -L /usr/aarch64-linux-gnu`.
# Installs what it needs when missing (Debian: qemu-user, gcc-aarch64-linux-gnu, the rust target).
# If those cannot be installed it prints a `notice:` and exits 0; once they are there, a failing
# test (or a NEON variant the tests skip) makes it exit non-zero. CI runs it at the end of .ci/run.
#
# Only target-specific settings are used (env vars, no .cargo/config.toml): native builds are
# unaffected. Cargo keeps the aarch64 build under <target dir>/aarch64-unknown-linux-gnu/.
# QEMU_CPU (read by qemu itself) picks the emulated core; qemu's default is `max`, and the
# suite also passes on `cortex-a53` (plain ARMv8.0-A).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TARGET=aarch64-unknown-linux-gnu
SYSROOT=/usr/aarch64-linux-gnu
PACKAGES=(qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross)

skip() {
  echo "notice: $*; the NEON kernels were not run (needs ${PACKAGES[*]} and rust target $TARGET)"
  exit 0
}

have_tools() {
  command -v qemu-aarch64 >/dev/null 2>&1 && command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 &&
    test -e "$SYSROOT/lib/ld-linux-aarch64.so.1"
}

if ! have_tools; then
  sudo=()
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo=(sudo -n); fi
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing ${PACKAGES[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get install -y -qq "${PACKAGES[@]}" >/dev/null 2>&1 ||
      { "${sudo[@]}" apt-get update -qq >/dev/null 2>&1 &&
        "${sudo[@]}" apt-get install -y -qq "${PACKAGES[@]}" >/dev/null 2>&1; } || true
  fi
  have_tools || skip "qemu-aarch64 / aarch64-linux-gnu-gcc could not be installed here"
fi

if command -v rustup >/dev/null 2>&1; then
  rustup target add "$TARGET" >/dev/null 2>&1 || true
fi
test -d "$(rustc --print sysroot)/lib/rustlib/$TARGET" ||
  skip "the rust target $TARGET could not be installed here"

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER:-aarch64-linux-gnu-gcc}"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER:-qemu-aarch64 -L $SYSROOT}"

log="$(mktemp "${TMPDIR:-/tmp}/mote-neon.XXXXXX")"
trap 'rm -f "$log"' EXIT
# --nocapture: the tests print "skipped <variant>: this CPU lacks <isa>" for variants they
# cannot run; under qemu every NEON variant must run, so such a line is a failure.
cargo test --profile opt -p mote-kernels --target "$TARGET" -- --nocapture 2>&1 | tee "$log"
grep -E '^detected: ' "$log" || true
if grep -E '^skipped ' "$log"; then
  echo "error: the tests skipped variants under qemu-aarch64 (NEON not detected?)" >&2
  exit 1
fi
echo "NEON kernels: mote-kernels tests passed on $TARGET under qemu-aarch64"
