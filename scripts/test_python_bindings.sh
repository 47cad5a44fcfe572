#!/usr/bin/env bash
# The Python bindings' tests, as a user gets them: a fresh venv, `pip install
# ./bindings/python`, then pytest on bindings/python/tests against the installed package
# (its bundled libmote, not the source tree). Run by scripts/test.sh.
#
# Environment:
#   MOTE_LIB     the libmote the install bundles (default: target/opt/libmote.so when it
#                exists, so the install runs no cargo; without it setup.py runs cargo)
#   PYTHON       interpreter for the venv (default: python3)
#   MOTE_BINDINGS_VENV  venv location (default: .cache/venv-bindings, rebuilt every run)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
venv="${MOTE_BINDINGS_VENV:-$repo/.cache/venv-bindings}"
target="${CARGO_TARGET_DIR:-$repo/target}"
lib="${MOTE_LIB:-}"
if [[ -z "$lib" && -f "$target/opt/libmote.so" ]]; then lib="$target/opt/libmote.so"; fi
# The tests compare with the CLI of the same build (profile `opt`, as scripts/test.sh builds).
if [[ -z "${MOTE_CLI:-}" && -f "$target/opt/mote" ]]; then export MOTE_CLI="$target/opt/mote"; fi

pip_quiet=(--no-input --disable-pip-version-check --quiet)
rm -rf "$venv"
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install "${pip_quiet[@]}" -r bindings/python/requirements-test.txt
# The build happens in pip's own temporary folder: nothing is left in the source tree but
# setuptools' build/ and *.egg-info (git-ignored).
MOTE_LIB="$lib" "$venv/bin/python" -m pip install "${pip_quiet[@]}" ./bindings/python

# From outside the source tree, so `import mote` can only find the installed package; MOTE_LIB
# unset, so it loads the library it bundled.
cd "$venv"
env -u MOTE_LIB "$venv/bin/python" -m pytest -q -p no:cacheprovider "$repo/bindings/python/tests"
