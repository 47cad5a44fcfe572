#!/usr/bin/env python3
"""Small QDQ models with a linear or cubic Resize between a DequantizeLinear and a
QuantizeLinear, and onnxruntime's outputs for them: the reference of Mote's 8-bit Resize
(`QResize`, runtime/tests/quantized_resize.rs).

Each case is `x (u8 or i8) -> DequantizeLinear -> Resize -> QuantizeLinear -> y`, written with
onnx.helper (opset 19), over deterministic random bytes, in the layout of the real-model
cases:

    .cache/qresize/<case>/{model.onnx, inputs/x.npy, outputs/y.npy, outputs_unfused/y.npy,
                           case.json}

`outputs/` is onnxruntime's default session (which may run the Resize on the 8-bit values
itself); `outputs_unfused/` is the same model with graph optimizations off, the nodes as the
ONNX spec writes them (dequantize, float Resize, quantize). case.json records how far the two
are apart. References are onnxruntime, single-threaded.

The align_corners cases resize to whole output lengths (scale x length an integer): where
it is not, onnxruntime divides by the floored output length and the ONNX reference
implementation (which Mote's float Resize follows) by scale x length, and the two disagree
by up to half the range whatever the precision.

The run is idempotent: an existing case whose case.json has this script's version is left
alone (--force rewrites all).

Run:  "$(scripts/setup_venv.sh)" scripts/make_qresize_cases.py [--out DIR] [--force]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

GENERATOR_VERSION = 2
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name: (mode, coordinate mode, dtype, (x scale, x zero), (y scale, y zero), shape, scales,
#        extra Resize attributes, roi)
CASES = {
    "linear_half_pixel_u8": ("linear", "half_pixel", np.uint8, (0.05, 128), (0.05, 128),
                             [1, 4, 32, 40], [1, 1, 2, 2], {}, None),
    "linear_align_corners_s8": ("linear", "align_corners", np.int8, (0.04, -3), (0.03, 5),
                                [1, 4, 31, 18], [1, 1, 2, 2.5], {}, None),
    "linear_asymmetric_u8": ("linear", "asymmetric", np.uint8, (0.02, 100), (0.05, 90),
                             [2, 3, 24, 24], [1, 1, 2, 2], {}, None),
    "linear_pytorch_half_pixel_s8": ("linear", "pytorch_half_pixel", np.int8, (0.05, 0),
                                     (0.05, 0), [1, 8, 20, 20], [1, 1, 0.6, 1.5], {}, None),
    "linear_downscale_antialias_u8": ("linear", "half_pixel", np.uint8, (0.05, 128),
                                      (0.04, 120), [1, 4, 40, 48], [1, 1, 0.5, 0.4],
                                      {"antialias": 1}, None),
    "cubic_half_pixel_u8": ("cubic", "half_pixel", np.uint8, (0.05, 128), (0.05, 128),
                            [1, 4, 32, 40], [1, 1, 2, 2], {}, None),
    "cubic_align_corners_s8": ("cubic", "align_corners", np.int8, (0.03, 10), (0.05, -20),
                               [1, 4, 25, 30], [1, 1, 1.6, 2], {"cubic_coeff_a": -0.5}, None),
    "cubic_exclude_outside_u8": ("cubic", "half_pixel", np.uint8, (0.05, 128), (0.05, 128),
                                 [1, 4, 20, 24], [1, 1, 3, 3], {"exclude_outside": 1}, None),
    "crop_and_resize_u8": ("linear", "tf_crop_and_resize", np.uint8, (0.05, 128), (0.05, 128),
                           [1, 4, 24, 24], [1, 1, 2, 2], {"extrapolation_value": 0.7},
                           [0, 0, -0.2, 0.1, 1, 1, 0.9, 1.3]),
}


def onnx_type(dtype) -> int:
    return TensorProto.UINT8 if dtype == np.uint8 else TensorProto.INT8


def build(spec) -> onnx.ModelProto:
    mode, coords, dtype, (sx, zx), (sy, zy), shape, scales, extra, roi = spec
    inits = [
        helper.make_tensor("sx", TensorProto.FLOAT, [], [sx]),
        helper.make_tensor("zx", onnx_type(dtype), [], [zx]),
        helper.make_tensor("sy", TensorProto.FLOAT, [], [sy]),
        helper.make_tensor("zy", onnx_type(dtype), [], [zy]),
        helper.make_tensor("scales", TensorProto.FLOAT, [len(scales)], scales),
    ]
    roi_name = ""
    if roi is not None:
        inits.append(helper.make_tensor("roi", TensorProto.FLOAT, [len(roi)], roi))
        roi_name = "roi"
    nodes = [
        helper.make_node("DequantizeLinear", ["x", "sx", "zx"], ["v"]),
        helper.make_node("Resize", ["v", roi_name, "scales"], ["r"], mode=mode,
                         coordinate_transformation_mode=coords, **extra),
        helper.make_node("QuantizeLinear", ["r", "sy", "zy"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "qresize",
        [helper.make_tensor_value_info("x", onnx_type(dtype), shape)],
        [helper.make_tensor_value_info(
            "y", onnx_type(dtype), [int(np.floor(d * s)) for d, s in zip(shape, scales)])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def run(model_file: str, x: np.ndarray, optimize: bool) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(model_file, opts, providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})[0]


def make(out: str, name: str, spec, force: bool) -> str:
    case_dir = os.path.join(out, name)
    meta_file = os.path.join(case_dir, "case.json")
    if not force and os.path.exists(meta_file):
        with open(meta_file) as f:
            if json.load(f).get("generator_version") == GENERATOR_VERSION:
                return "kept"
    tmp = case_dir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for d in ("inputs", "outputs", "outputs_unfused"):
        os.makedirs(os.path.join(tmp, d))
    model_file = os.path.join(tmp, "model.onnx")
    onnx.save(build(spec), model_file)
    dtype, shape = spec[2], spec[5]
    rng = np.random.default_rng(sum(map(ord, name)))
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max + 1, size=shape, dtype=np.int64).astype(dtype)
    fused, unfused = run(model_file, x, True), run(model_file, x, False)
    np.save(os.path.join(tmp, "inputs", "x.npy"), x)
    np.save(os.path.join(tmp, "outputs", "y.npy"), fused)
    np.save(os.path.join(tmp, "outputs_unfused", "y.npy"), unfused)
    diff = np.abs(fused.astype(np.int64) - unfused.astype(np.int64))
    meta = {
        "generator_version": GENERATOR_VERSION,
        "onnxruntime_version": ort.__version__,
        "inputs": [{"name": "x", "file": "inputs/x.npy"}],
        "outputs": [{"name": "y", "file": "outputs/y.npy"}],
        "unfused_outputs": [{"name": "y", "file": "outputs_unfused/y.npy"}],
        "fused_vs_unfused": {"max_steps": int(diff.max()),
                             "within_one_step": float((diff <= 1).mean())},
    }
    with open(os.path.join(tmp, "case.json"), "w") as f:
        json.dump(meta, f, indent=2)
    shutil.rmtree(case_dir, ignore_errors=True)
    os.rename(tmp, case_dir)
    return f"written (ORT fused vs unfused: max {diff.max()} steps)"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(ROOT, ".cache", "qresize"))
    p.add_argument("--force", action="store_true")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for name, spec in CASES.items():
        print(f"{name:34s} {make(a.out, name, spec, a.force)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
