"""Shared fixtures: the repository's demo model and its test images, and reference outputs
from the Rust CLI and from onnxruntime.

A reference that cannot be produced (no built `mote` binary, no project venv with
onnxruntime) skips its test, unless MOTE_REQUIRE_TEST_DATA=1 (scripts/test.sh), where it
fails instead.
"""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
MODEL = REPO / "assets" / "models" / "digits_mlp.onnx"
IMAGES = REPO / "assets" / "models" / "digits_test_x.npy"
LABELS = REPO / "assets" / "models" / "digits_test_y.npy"


def unavailable(reason):
    if os.environ.get("MOTE_REQUIRE_TEST_DATA") == "1":
        pytest.fail(f"{reason}, and MOTE_REQUIRE_TEST_DATA=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def images():
    return np.load(IMAGES)


@pytest.fixture(scope="session")
def labels():
    return np.load(LABELS)


def _target_dir():
    if os.environ.get("CARGO_TARGET_DIR"):
        return Path(os.environ["CARGO_TARGET_DIR"])
    return REPO / "target"


@pytest.fixture(scope="session")
def cli_output(tmp_path_factory):
    """probabilities from `mote run` (the Rust runtime through its CLI) on the images."""
    default = next(
        (p for p in (_target_dir() / d / "mote" for d in ("opt", "release")) if p.is_file()),
        _target_dir() / "opt" / "mote",
    )
    cli = Path(os.environ.get("MOTE_CLI", default))
    if not cli.is_file():
        unavailable(f"no CLI binary at {cli} (cargo build --profile opt -p mote-cli)")
    out = tmp_path_factory.mktemp("cli")
    subprocess.run(
        [str(cli), "run", str(MODEL), "--input", f"pixels={IMAGES}", "--output-dir", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return np.load(out / "probabilities.npy")


@pytest.fixture(scope="session")
def onnxruntime_output(tmp_path_factory):
    """probabilities from onnxruntime in the project venv (scripts/setup_venv.sh)."""
    python = Path(os.environ.get("MOTE_REF_PYTHON", REPO / ".cache" / "venv" / "bin" / "python"))
    if not python.is_file():
        unavailable(f"no project venv python at {python} (scripts/setup_venv.sh)")
    out = tmp_path_factory.mktemp("ort") / "probabilities.npy"
    script = (
        "import sys, numpy as np, onnxruntime as ort\n"
        "s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
        "(p,) = s.run(['probabilities'], {'pixels': np.load(sys.argv[2])})\n"
        "np.save(sys.argv[3], p)\n"
    )
    subprocess.run([str(python), "-c", script, str(MODEL), str(IMAGES), str(out)], check=True)
    return np.load(out)
