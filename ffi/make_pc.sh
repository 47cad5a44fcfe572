#!/usr/bin/env bash
# Writes mote.pc (pkg-config) for libmote installed under PREFIX to stdout:
#   ffi/make_pc.sh /usr/local > /usr/local/lib/pkgconfig/mote.pc
# The version comes from the workspace Cargo.toml, the template is ffi/mote.pc.in.
set -euo pipefail
prefix="${1:?usage: ffi/make_pc.sh PREFIX > mote.pc}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/../Cargo.toml" | head -n 1)"
[[ -n "$version" ]] || { echo "make_pc.sh: no version in Cargo.toml" >&2; exit 1; }
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" "$here/mote.pc.in"
