#!/usr/bin/env bash
# The embedded library (README "Library size"): `cargo build --release -p mote-ffi
# --no-default-features` (the shipping profile; CPU only, no ONNX import, the core op families
# and element types only, no AVX-512 kernels), checked from C:
#   1. its stripped size is at most MAX_BYTES (issue #5: 2 MB);
#   2. the C example (examples/c/digits.c) linked against it classifies the demo test split
#      from the checked-in `.mote` file exactly as the full library does from the ONNX model;
#   3. a model with an op from a family it leaves out (`Det`, feature `ops-transformer`) loads
#      but its session is refused, with MOTE_STATUS_UNSUPPORTED and a message naming the feature.
# Before that, `mote` with each optional feature alone is checked warning-free.
# Needs what `.ci/run` builds before (the full `target/opt/libmote.so` and `mote`, profile
# `opt`) and the ONNX node tests that scripts/test.sh generates (`Det`'s model comes from there).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target="${CARGO_TARGET_DIR:-target}"
MAX_BYTES=2000000
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Each optional feature alone on top of the core compiles warning-free (helpers shared by a few
# families are the dead-code trap); `cargo check` only, no code generation.
for family in ops-transformer ops-rnn ops-vision ops-signal ops-loss ops-index dtypes-extra \
    isa-avx512; do
  cargo check --profile opt -p mote --no-default-features --features "$family" 2> "$work/check.log" \
    || { cat "$work/check.log" >&2; exit 1; }
  if grep -E '^(warning|error)' "$work/check.log"; then
    echo "mote with only $family must build warning-free" >&2
    exit 1
  fi
done

# The kernels' own tests without their AVX-512 variants (the embedded library's set: AVX2/FMA,
# AVX-VNNI and portable on x86_64), each against its reference as in the full build.
cargo test --profile opt -p mote-kernels --no-default-features --lib > "$work/kernels.log" 2>&1 \
  || { cat "$work/kernels.log" >&2; exit 1; }
grep -E '^test result' "$work/kernels.log" | sed 's/^/kernels without AVX-512: /'

# The full library (profile `opt`, a no-op after CI's build), then the embedded one.
mkdir -p "$work/full" "$work/embedded"
cargo build --profile opt -p mote-ffi 2> "$work/build.log" || { cat "$work/build.log" >&2; exit 1; }
cp "$target/opt/libmote.so" "$work/full/"
cargo build --release -p mote-ffi --no-default-features 2> "$work/build.log" \
  || { cat "$work/build.log" >&2; exit 1; }
if grep -E '^(warning|error)' "$work/build.log"; then
  echo "the embedded library's build must be warning-free" >&2
  exit 1
fi
sizes="$(bash scripts/lib_size.sh)"
echo "${sizes%%$'\n'*}"
cp "$target/release/libmote.so" "$work/embedded/"
bytes="$(stat -c %s "$work/embedded/libmote.so")"
if (( bytes > MAX_BYTES )); then
  echo "the embedded library has $bytes bytes (at most $MAX_BYTES)" >&2
  exit 1
fi

cc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude examples/c/digits.c -o "$work/digits" \
  -L"$work/embedded" -lmote
models=assets/models
LD_LIBRARY_PATH="$work/full" "$work/digits" "$models/digits_mlp.onnx" \
  "$models/digits_test_x.npy" > "$work/full.txt" 2> "$work/full.err" \
  || { cat "$work/full.err" >&2; echo "the full library failed on the ONNX model" >&2; exit 1; }
LD_LIBRARY_PATH="$work/embedded" "$work/digits" "$models/digits_mlp.mote" \
  "$models/digits_test_x.npy" > "$work/embedded.txt"
if ! cmp -s "$work/full.txt" "$work/embedded.txt" || [[ ! -s "$work/full.txt" ]]; then
  echo "the embedded library's predictions differ from the full library's" >&2
  diff "$work/full.txt" "$work/embedded.txt" | head >&2
  exit 1
fi
echo "embedded library: $(wc -l < "$work/embedded.txt") predictions from the .mote file, same as the full library's"

"$target/opt/mote" convert .cache/onnx-node/node/test_det_2d/model.onnx \
  -o "$work/det.mote" > /dev/null
if LD_LIBRARY_PATH="$work/embedded" "$work/digits" "$work/det.mote" \
  "$models/digits_test_x.npy" > /dev/null 2> "$work/det.err"; then
  echo "the embedded library ran Det, whose family it leaves out" >&2
  exit 1
fi
cat "$work/det.err"
if ! grep -q 'mote_session_new.*: unsupported: .*Det.*"ops-transformer"' "$work/det.err"; then
  echo "expected the session to be refused as unsupported, naming ops-transformer" >&2
  exit 1
fi
