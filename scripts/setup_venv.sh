#!/usr/bin/env bash
# Create (once) the Python venv used by Mote's test-data scripts and print the
# path of its python interpreter on stdout.
#
#   PY="$(scripts/setup_venv.sh)" && "$PY" scripts/gen_node_tests.py
#
# Everything except that one path goes to stderr, so callers can capture it
# with $(...).  The venv lives at <repo>/.cache/venv (git-ignored).  It is
# rebuilt only when scripts/requirements.txt changes: a stamp file inside the
# venv records the sha256 of the requirements it was built from, and it
# is written last, so an interrupted install never leaves a half-populated
# venv that looks valid.
#
# Environment:
#   PYTHON       interpreter used to create the venv (default: python3)
#   MOTE_VENV    venv location (default: <repo>/.cache/venv)
set -euo pipefail

# Resolve the repo root from this file's location so the script works from any
# cwd (CI jobs, the Rust test harness, a developer's shell).
SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd)"
REQS="$SCRIPT_DIR/requirements.txt"
VENV="${MOTE_VENV:-$REPO_ROOT/.cache/venv}"
PYTHON="${PYTHON:-python3}"
STAMP_NAME=".mote-requirements.sha256"

log() { echo "setup_venv: $*" >&2; }

if command -v sha256sum >/dev/null 2>&1; then
    want="$(sha256sum "$REQS" | cut -d' ' -f1)"
else  # macOS ships shasum rather than sha256sum
    want="$(shasum -a 256 "$REQS" | cut -d' ' -f1)"
fi

# Fast path: the venv exists, was built from these exact requirements, and its
# interpreter still runs (a Python upgrade on the host can break old venvs).
if [[ -f "$VENV/$STAMP_NAME" && "$(cat "$VENV/$STAMP_NAME")" == "$want" ]] \
    && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "$VENV/bin/python"
    exit 0
fi

# Serialise concurrent callers (e.g. parallel CI steps) on a lock file, where
# flock(1) exists; the second caller then finds the finished venv.
mkdir -p "$(dirname "$VENV")"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$VENV.lock"
    flock 9
    if [[ -f "$VENV/$STAMP_NAME" && "$(cat "$VENV/$STAMP_NAME")" == "$want" ]]; then
        echo "$VENV/bin/python"
        exit 0
    fi
fi

log "building venv at $VENV (requirements sha256 $want)"
# A venv bakes its absolute path into bin/ scripts, so it cannot be built
# elsewhere and moved into place.  Instead it is rebuilt in place and the stamp
# is written only after everything succeeded: a venv without a matching stamp
# (interrupted build, old requirements) is always wiped and rebuilt.
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV" >&2
# --no-input / --disable-pip-version-check: never block or chatter in CI.
"$VENV/bin/python" -m pip install --no-input --disable-pip-version-check \
    --quiet --requirement "$REQS" >&2

# Sanity check: the core packages import and report the pinned versions.
"$VENV/bin/python" - >&2 <<'PYEOF'
import numpy, onnx, onnxruntime, sklearn, PIL
print("setup_venv: numpy", numpy.__version__, "onnx", onnx.__version__,
      "onnxruntime", onnxruntime.__version__, "scikit-learn", sklearn.__version__,
      "Pillow", PIL.__version__)
PYEOF

echo "$want" > "$VENV/$STAMP_NAME"
log "done"
echo "$VENV/bin/python"
