#!/usr/bin/env bash
# Size of the embedded library (issue #5: at most 2 MB): builds
# `cargo build --release -p mote-ffi --no-default-features` (CPU only, no ONNX import, the
# core op families only: README "Library size") and prints the stripped libmote.so's size in
# bytes. With `--top N`, also relinks it with symbols (the crates are
# not recompiled) and prints the N largest groups of functions (generic instances of one
# function summed), the view README "Library size" was written from.
#
#     scripts/lib_size.sh [--top 30]
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p mote-ffi --no-default-features --quiet
lib="$target/release/libmote.so"
echo "libmote.so (stripped, CPU only, no ONNX, core ops): $(stat -c %s "$lib") bytes"
size -A "$lib" | sort -k2 -n | tail -6
if [[ "${1:-}" == "--top" ]]; then
    cargo build --release -p mote-ffi --no-default-features --quiet \
        --config 'profile.release.package.mote-ffi.strip="none"'
    nm -S --size-sort -C "$lib" | awk '$3 ~ /[tTwW]/' | python3 -c '
import collections, re, sys
sizes, counts = collections.Counter(), collections.Counter()
for line in sys.stdin:
    parts = line.split(None, 3)
    if len(parts) < 4:
        continue
    name = re.sub(r"::\{closure#\d+\}", "", parts[3].strip())
    name = re.sub(r"<[^<>]*>", "<>", name)
    sizes[name] += int(parts[1], 16)
    counts[name] += 1
print("text bytes  copies  function")
for name, n in sizes.most_common(int(sys.argv[1])):
    print(f"{n:10d} {counts[name]:7d}  {name[:140]}")
' "${2:-30}"
    # Leave the stripped library in place, as the plain build makes it.
    cargo build --release -p mote-ffi --no-default-features --quiet
fi
