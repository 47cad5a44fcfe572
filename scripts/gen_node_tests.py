#!/usr/bin/env python3
"""Generate the ONNX backend *node* conformance tests on disk.

onnx 1.23 stopped shipping onnx/backend/test/data/node/: the node test cases
now only exist as Python snippets (onnx/backend/test/case/node/*.py) that
build the models and compute expected outputs with the reference evaluator
when imported.  Mote's Rust test harness needs them as files, in the classic
layout every ONNX runtime understands:

    <out>/node/<test_name>/model.onnx
    <out>/node/<test_name>/test_data_set_<k>/input_<i>.pb
    <out>/node/<test_name>/test_data_set_<k>/output_<i>.pb

The serialisation and the digest are identical to the team conformance tool
(shared/conformance/gen_node_data.py) so the two can be cross-checked by the
sha256 in the meta file: same onnx + numpy + seed => byte-identical data.

Many snippets draw from np.random without seeding it themselves, so the global
numpy RNG is seeded (default 0) right before the snippets are imported; the
data is only reproducible for a fixed (onnx, numpy, seed) triple, which is
recorded in <out>/.done and checked to skip regeneration.  Pillow is hidden
from the snippets so the ImageDecoder tests use onnx's frozen image data
(see generate()); the result does not depend on whether or which Pillow is
installed.

Run with the project venv (scripts/setup_venv.sh):
    "$(scripts/setup_venv.sh)" scripts/gen_node_tests.py [--out DIR] [--seed 0] [--force]

Default output: <repo>/.cache/onnx-node.  Expect 1884 tests with onnx 1.23.2.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import warnings

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, ".cache", "onnx-node")
DONE_FILE = ".done"
META_FILE = "node_tests_meta.json"
# Bump when this script's output changes for the same (onnx, numpy, seed), so
# existing caches are regenerated instead of silently reused.
GENERATOR_VERSION = 2


def _versions() -> dict:
    # Read versions from package metadata instead of importing onnx: the
    # import must happen only after the RNG is seeded (see generate()), exactly
    # as in the team tool, so nothing can perturb the random stream.
    return {
        "onnx_version": importlib.metadata.version("onnx"),
        "numpy_version": importlib.metadata.version("numpy"),
    }


def _serialize_value(value, vi_type, name) -> bytes:
    """Serialise one input/output value the way backend-test-tools did.

    Non-tensor values (maps, sequences, optionals) get their own protos; the
    value-info type from the graph decides which, because the Python value
    alone is ambiguous (e.g. a list may be a sequence or a tensor).
    """
    import numpy as np
    from onnx import TensorProto, numpy_helper

    if vi_type.HasField("map_type"):
        proto = numpy_helper.from_dict(value, name)
    elif vi_type.HasField("sequence_type"):
        proto = numpy_helper.from_list(value, name)
    elif vi_type.HasField("optional_type"):
        proto = numpy_helper.from_optional(value, name)
    elif isinstance(value, TensorProto):
        proto = value
    else:
        proto = numpy_helper.from_array(np.asarray(value), name)
    return proto.SerializeToString()


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def is_up_to_date(out: str, seed: int) -> bool:
    """True when <out>/.done records the same onnx/numpy versions and seed."""
    try:
        with open(os.path.join(out, DONE_FILE)) as f:
            done = json.load(f)
    except (OSError, ValueError):
        return False
    want = dict(_versions(), seed=seed, generator_version=GENERATOR_VERSION)
    return all(done.get(k) == v for k, v in want.items()) and os.path.isdir(
        os.path.join(out, "node")
    )


def generate(out: str, seed: int) -> dict:
    import numpy as np

    # Hide Pillow from the test-case snippets.  With Pillow importable, the
    # ImageDecoder snippets re-encode their images with the local Pillow build
    # (the JPEG 2000 bytes then depend on its bundled openjpeg) and reseed the
    # global RNG; without it they use the frozen data shipped inside onnx.
    # The project venv has Pillow (fetch_real_models.py needs it), but the
    # suite must not depend on whether or which Pillow is installed -- other
    # generators of this suite (e.g. the team conformance tool) run without
    # it -- so always use the frozen data.  A None entry in sys.modules makes
    # `import PIL.Image` raise ImportError.
    for mod in ("PIL", "PIL.Image"):
        if mod in sys.modules and sys.modules[mod] is not None:
            raise RuntimeError("PIL was imported before node-test generation")
        sys.modules[mod] = None  # type: ignore[assignment]

    # The snippets deliberately compute inf/nan (e.g. ReduceMax of empty
    # sets); numpy's RuntimeWarnings about that are expected noise.
    warnings.filterwarnings("ignore", category=RuntimeWarning)

    # Seed before importing onnx and its test-case modules: the snippets run
    # (and draw random inputs) when load_model_tests imports them.
    np.random.seed(seed)
    import onnx
    from onnx.backend.test.loader import load_model_tests

    # Build into a sibling temp dir and swap it in at the end, so an
    # interrupted run never leaves a partial suite next to a stale .done.
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out.rstrip(os.sep) + ".tmp"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    node_dir = os.path.join(tmp, "node")
    os.makedirs(node_dir)

    cases = load_model_tests(kind="node")
    # Same digest as the team tool: name, model bytes, then every data file's
    # bytes, in sorted-case / data-set / input-then-output order.
    digest = hashlib.sha256()
    n = 0
    for case in sorted(cases, key=lambda c: c.name):
        d = os.path.join(node_dir, case.name)
        os.makedirs(d)
        model_bytes = case.model.SerializeToString()
        _write(os.path.join(d, "model.onnx"), model_bytes)
        digest.update(case.name.encode())
        digest.update(model_bytes)
        g = case.model.graph
        for k, (inputs, outputs) in enumerate(case.data_sets):
            ds = os.path.join(d, f"test_data_set_{k}")
            os.makedirs(ds)
            for j, v in enumerate(inputs):
                data = _serialize_value(v, g.input[j].type, g.input[j].name)
                _write(os.path.join(ds, f"input_{j}.pb"), data)
                digest.update(data)
            for j, v in enumerate(outputs):
                data = _serialize_value(v, g.output[j].type, g.output[j].name)
                _write(os.path.join(ds, f"output_{j}.pb"), data)
                digest.update(data)
        n += 1

    meta = {
        "onnx_version": onnx.__version__,
        "numpy_version": np.__version__,
        "seed": seed,
        "generator_version": GENERATOR_VERSION,
        "node_tests": n,
        "sha256": digest.hexdigest(),
    }
    with open(os.path.join(tmp, META_FILE), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    # .done is the completion marker checked by is_up_to_date(); written last.
    with open(os.path.join(tmp, DONE_FILE), "w") as f:
        json.dump(meta, f, sort_keys=True)
        f.write("\n")

    if os.path.exists(out):
        shutil.rmtree(out)
    os.rename(tmp, out)
    return meta


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default=DEFAULT_OUT, help="output dir (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="global numpy seed (default: 0)")
    ap.add_argument("--force", action="store_true", help="regenerate even if up to date")
    args = ap.parse_args()
    out = os.path.abspath(args.out)

    if not args.force and is_up_to_date(out, args.seed):
        with open(os.path.join(out, META_FILE)) as f:
            meta = json.load(f)
        print(f"gen_node_tests: up to date in {out}", file=sys.stderr)
    else:
        print(f"gen_node_tests: generating into {out} ...", file=sys.stderr)
        meta = generate(out, args.seed)
    print(json.dumps(meta, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
