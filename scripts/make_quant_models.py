#!/usr/bin/env python3
"""Quantize and half-precision-convert the real test models the way users do, and record
onnxruntime reference outputs for Mote's INT8/FP16 end-to-end tests (issue #4).

Sources: the PP-OCRv4 detector and recogniser and the PP-OCR mobile direction classifier
fetched by scripts/fetch_real_models.py (run it first), and the demo digits MLP
(assets/models/digits_mlp.onnx).  For each source, with the stock tooling and its usual
recipe:

    upgrade below opset 13:  onnx.version_converter.convert_version(model, 13)
    pre-process:             onnxruntime.quantization.shape_inference.quant_pre_process
                             (the detector's symbolic shape inference fails; it falls back
                             to skip_symbolic_shape=True, as users do, and logs it)
    qdq_s8s8      quantize_static(QDQ, per_channel, weights QInt8, activations QInt8)
    qdq_u8s8      quantize_static(QDQ, per_channel, weights QInt8, activations QUInt8)
    qop_u8s8      quantize_static(QOperator, per_channel, weights QInt8, activations QUInt8)
                  (QLinearConv, QLinearMatMul and com.microsoft QLinearAdd/Mul/Sigmoid/
                  GlobalAveragePool/Concat...)
    dynamic       quantize_dynamic(weights QInt8, op_types_to_quantize=["MatMul"]), only for
                  sources with MatMul: DynamicQuantizeLinear + MatMulInteger
    fp16          onnxconverter_common.float16.convert_float_to_float16(keep_io_types=True)
    fp16_weights  every float initializer (and float Constant) stored as float16 followed
                  by Cast(to=float)

The FP16 variants start from the same pre-processed model: ORT's optimizer there folds
BatchNormalization into Conv.  Converted as fetched, the detector's unfolded BN statistics
fall outside float16's range (a variance of ~1e8 is clamped to 1e4) and the FP16 detector
no longer sees any text.

Static quantization calibrates with MinMax on realistic, deterministic data that differs
from the test input: rendered receipt-like pages with random texts, font sizes and positions
for the detector, rendered text lines for the recogniser and the classifier (half of the
classifier's upside down), and 100 training-split digits for the MLP.  Calibration runs once
per source; the three static variants share its ranges (ORT's calibration cache).

Each variant becomes a case in the same layout as fetch_real_models.py writes:

    .cache/real-models/<source_case>@<variant>/{model.onnx,inputs/,outputs/,case.json}
    .cache/real-models/quant_index.json

case.json has the usual fields plus "variant", "source_case", "source_model" (repository-
relative path of the FP32 model), "tolerance" ("quantized" | "fp16"), "op_histogram" and
"vs_fp32" (how far ORT's own quantized outputs are from its FP32 outputs).  The inputs are
the FP32 case's inputs (copied); the demo's are the first 64 rows of its committed test
split.  References are onnxruntime 1.31.1, single-threaded.

The run is idempotent: a case whose case.json matches this script's version, the source
model's hash and its files' hashes is left alone.

Run:  "$(scripts/setup_venv.sh)" scripts/make_quant_models.py [--out DIR] [--force]
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS)
import fetch_real_models as frm  # noqa: E402  (rendering, preprocessing, sessions, checks)

REPO_ROOT = frm.REPO_ROOT
DEFAULT_OUT = frm.DEFAULT_OUT
ORT_VERSION = frm.ORT_VERSION
# Bump when the recipe, calibration data or layout change, so cached cases are rebuilt.
GENERATOR_VERSION = 2
CALIB_SEED = 20240401
DET_CALIB_PAGES = 16
LINE_CALIB_COUNT = 32
DEMO_CALIB_COUNT = 100
DEMO_TEST_ROWS = 64

STATIC_VARIANTS = ("qdq_s8s8", "qdq_u8s8", "qop_u8s8")
ALL_VARIANTS = STATIC_VARIANTS + ("dynamic", "fp16", "fp16_weights")


def log(msg: str) -> None:
    print(f"make_quant_models: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Calibration data (deterministic, realistic, unlike the test inputs)
# --------------------------------------------------------------------------

WORDS = (
    "Receipt Order Amount Subtotal Tax VAT Cash Card Change Store Market Bakery Bread Milk "
    "Apples Bananas Cheese Butter Rice Pasta Tomato Onion Sugar Salt Water Juice Soap "
    "Customer Account Balance Payment Invoice Delivery Address Street Road Avenue City "
    "Berlin Munich Paris London Madrid Phone Email Website Open Monday Friday Sunday "
    "Discount Coupon Member Points Thanks Welcome Visit again Cashier Terminal Ref"
).split()


def random_text(rng: np.random.Generator) -> str:
    """A receipt-like line: words, prices, dates, codes."""
    kind = rng.integers(0, 5)
    words = " ".join(rng.choice(WORDS, size=rng.integers(1, 4)))
    if kind == 0:
        return f"{words} {rng.integers(1, 9)} x {rng.integers(0, 99)}.{rng.integers(0, 99):02d}"
    if kind == 1:
        return f"{rng.integers(1, 28):02d}/{rng.integers(1, 12):02d}/20{rng.integers(10, 30)} " \
               f"{rng.integers(0, 23):02d}:{rng.integers(0, 59):02d}"
    if kind == 2:
        return f"{words}: {rng.integers(0, 999)}.{rng.integers(0, 99):02d} EUR"
    if kind == 3:
        return f"No. {rng.integers(1000, 99999)}-{rng.integers(10, 99)} {words}"
    return words.capitalize() + ("!" if rng.random() < 0.3 else "")


def calib_page(rng: np.random.Generator, size: int = 640):
    from PIL import Image, ImageDraw

    tint = tuple(int(v) for v in rng.integers(232, 256, size=3))
    img = Image.new("RGB", (size, size), tint)
    draw = ImageDraw.Draw(img)
    y = int(rng.integers(5, 60))
    while True:
        pt = int(rng.integers(16, 46))
        if y + pt > size - 10:
            break
        x = int(rng.integers(5, 160))
        ink = tuple(int(v) for v in rng.integers(0, 70, size=3))
        draw.text((x, y), random_text(rng), fill=ink, font=frm.font(pt))
        y += int(pt * rng.uniform(1.3, 2.4))
    return img


def det_calibration(rng):
    return [{"x": frm.det_preprocess(calib_page(rng))} for _ in range(DET_CALIB_PAGES)]


def line_calibration(rng, width: int, rotate_half: bool):
    feeds = []
    for i in range(LINE_CALIB_COUNT):
        img = frm.render_line(random_text(rng), int(rng.integers(20, 60)))
        if rotate_half and i % 2 == 1:
            img = img.rotate(180)
        feeds.append({"x": frm.line_preprocess(img, 48, width)})
    return feeds


def digits_train_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    # train_demo.py's split (same test size and seed), so calibration never sees test data.
    x_train, _, _, _ = train_test_split(digits.data, digits.target, test_size=0.25,
                                        random_state=0)
    return x_train.astype(np.float32)


def demo_calibration(rng):
    x = digits_train_split()[:DEMO_CALIB_COUNT]
    return [{"pixels": x[i:i + 1]} for i in range(len(x))]


class Feeds:
    """onnxruntime.quantization.CalibrationDataReader over a list of feed dicts."""

    def __init__(self, feeds):
        self.feeds = feeds
        self.it = iter(feeds)

    def get_next(self):
        return next(self.it, None)

    def rewind(self):
        self.it = iter(self.feeds)

    def __len__(self):
        return len(self.feeds)


# --------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    case: str
    model: str  # repository-relative path of the FP32 model
    calibration: Callable  # rng -> [feeds]
    inputs: Callable  # out dir -> {input name: array}
    check: Callable | None  # fetch_real_models check (inputs, outputs, model_path) -> stats


def fp32_case_inputs(case: str):
    def load(out: str) -> dict:
        with open(os.path.join(out, case, "case.json")) as f:
            meta = json.load(f)
        return {e["name"]: np.load(os.path.join(out, case, e["file"])) for e in meta["inputs"]}
    return load


def demo_inputs(out: str) -> dict:
    x = np.load(os.path.join(REPO_ROOT, "assets", "models", "digits_test_x.npy"))
    return {"pixels": np.ascontiguousarray(x[:DEMO_TEST_ROWS], np.float32)}


def demo_check(inputs, outputs, model_path) -> dict:
    y = np.load(os.path.join(REPO_ROOT, "assets", "models", "digits_test_y.npy"))[:DEMO_TEST_ROWS]
    acc = float((outputs[0].argmax(axis=1) == y).mean())
    if acc < 0.9:
        raise SystemExit(f"make_quant_models: demo accuracy only {acc:.3f}")
    return {"accuracy": acc}


SOURCES = [
    Source("ch_PP-OCRv4_det_infer", ".cache/real-models/ch_PP-OCRv4_det_infer/model.onnx",
           det_calibration, fp32_case_inputs("ch_PP-OCRv4_det_infer"), frm.det_check),
    Source("ch_PP-OCRv4_rec_infer", ".cache/real-models/ch_PP-OCRv4_rec_infer/model.onnx",
           lambda rng: line_calibration(rng, 320, False),
           fp32_case_inputs("ch_PP-OCRv4_rec_infer"), frm.rec_check),
    Source("ch_ppocr_mobile_v2.0_cls_infer",
           ".cache/real-models/ch_ppocr_mobile_v2.0_cls_infer/model.onnx",
           lambda rng: line_calibration(rng, 192, True),
           fp32_case_inputs("ch_ppocr_mobile_v2.0_cls_infer"), frm.cls_check),
    Source("digits_mlp", "assets/models/digits_mlp.onnx", demo_calibration, demo_inputs,
           demo_check),
]


# --------------------------------------------------------------------------
# Recipes
# --------------------------------------------------------------------------

def opset(model) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def preprocess(source: Source, work: str) -> str:
    """opset >= 13, then quant_pre_process; returns the pre-processed model's path."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = onnx.load(os.path.join(REPO_ROOT, source.model))
    if opset(model) < 13:
        model = version_converter.convert_version(model, 13)
    upgraded = os.path.join(work, "upgraded.onnx")
    onnx.save(model, upgraded)
    pre = os.path.join(work, "pre.onnx")
    # The symbolic shape inference writes sym_shape_infer_temp.onnx into the current
    # directory; keep it out of the repository.
    cwd = os.getcwd()
    os.chdir(work)
    try:
        quant_pre_process(upgraded, pre)
    except Exception as e:  # noqa: BLE001  (symbolic shape inference raises many kinds)
        log(f"{source.case}: symbolic shape inference failed ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}); retrying with skip_symbolic_shape=True")
        quant_pre_process(upgraded, pre, skip_symbolic_shape=True)
    finally:
        os.chdir(cwd)
    return pre


def make_static(pre: str, dst: str, variant: str, reader: Feeds, cache: str) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    fmt = QuantFormat.QOperator if variant.startswith("qop") else QuantFormat.QDQ
    act = QuantType.QInt8 if variant == "qdq_s8s8" else QuantType.QUInt8
    reader.rewind()
    quantize_static(pre, dst, reader, quant_format=fmt, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=act,
                    calibration_cache_path=cache)


def make_dynamic(pre: str, dst: str) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(pre, dst, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])


def make_fp16(src: str, dst: str, name: str) -> None:
    import warnings

    import onnx
    from onnxconverter_common import float16

    # The converter warns once per constant it clamps into float16's range; one line says
    # how many instead.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = float16.convert_float_to_float16(onnx.load(src), keep_io_types=True)
    clamped = sum("truncated" in str(w.message) for w in caught)
    if clamped:
        log(f"{name}: float16 conversion clamped {clamped} constants into float16's range")
    onnx.save(model, dst)


def make_fp16_weights(src: str, dst: str) -> None:
    """Weight-only FP16: each float initializer is stored as float16 and Cast back to float
    where it is used, so the file halves while all arithmetic stays FP32."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(src)
    g = model.graph
    casts = []
    for init in g.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16),
                                       init.name + "_fp16")
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                      name=init.name + "_cast"))
        init.CopyFrom(half)
    # Exporters such as paddle2onnx store weights as Constant nodes instead; each gets the
    # same treatment, its Cast right after it.
    nodes = []
    for n in g.node:
        nodes.append(n)
        value = next((a for a in n.attribute if a.name == "value"), None)
        if n.op_type != "Constant" or value is None or value.t.data_type != TensorProto.FLOAT:
            continue
        out = n.output[0]
        value.t.CopyFrom(numpy_helper.from_array(
            numpy_helper.to_array(value.t).astype(np.float16), out + "_fp16"))
        n.output[0] = out + "_fp16"
        nodes.append(helper.make_node("Cast", [n.output[0]], [out], to=TensorProto.FLOAT,
                                      name=out + "_cast"))
    # Producers before consumers: the initializers' Casts go first.
    nodes = casts + nodes
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, dst)


def op_histogram(path: str) -> dict:
    import onnx

    m = onnx.load(path)
    counts = collections.Counter(
        (f"{n.domain}." if n.domain not in ("", "ai.onnx") else "") + n.op_type
        for n in m.graph.node)
    return dict(sorted(counts.items()))


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

def case_name(source: Source, variant: str) -> str:
    return f"{source.case}@{variant}"


def source_sha(source: Source) -> str:
    return frm.sha256_file(os.path.join(REPO_ROOT, source.model))


def case_is_current(case_dir: str, src_sha: str) -> bool:
    try:
        with open(os.path.join(case_dir, "case.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    if (meta.get("generator_version") != GENERATOR_VERSION
            or meta.get("onnxruntime_version") != ORT_VERSION
            or meta.get("source_model_sha256") != src_sha):
        return False
    files = meta.get("files", {})
    if "model.onnx" not in files:
        return False
    return all(os.path.isfile(os.path.join(case_dir, rel))
               and frm.sha256_file(os.path.join(case_dir, rel)) == digest
               for rel, digest in files.items())


def compare(actual: np.ndarray, expected: np.ndarray) -> dict:
    a, e = actual.astype(np.float64).ravel(), expected.astype(np.float64).ravel()
    denom = np.linalg.norm(a) * np.linalg.norm(e)
    return {"cosine": float(a @ e / denom) if denom else 1.0,
            "max_abs_diff": float(np.abs(a - e).max()),
            "max_abs_ref": float(np.abs(e).max())}


def write_case(out: str, source: Source, variant: str, model_path: str, src_sha: str,
               feeds: dict, fp32_outputs: list) -> dict:
    name = case_name(source, variant)
    case_dir = os.path.join(out, name)
    tmp = case_dir + ".tmp"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(os.path.join(tmp, "inputs"))
    os.makedirs(os.path.join(tmp, "outputs"))
    shutil.copyfile(model_path, os.path.join(tmp, "model.onnx"))
    model_file = os.path.join(tmp, "model.onnx")

    sess = frm.make_session(model_file)
    in_names = [i.name for i in sess.get_inputs()]
    out_names = [o.name for o in sess.get_outputs()]
    results = sess.run(out_names, feeds)
    # The same file run by onnxruntime without graph optimizations: the QDQ nodes then run as
    # the ONNX spec writes them, instead of fused into onnxruntime's integer kernels, which
    # round differently. How far apart the two are is the spread of legitimate
    # implementations of this file; the Rust test allows Mote that much (see
    # runtime/tests/quantized_models.rs).
    import onnxruntime as ort
    unfused_opts = ort.SessionOptions()
    unfused_opts.intra_op_num_threads = 1
    unfused_opts.inter_op_num_threads = 1
    unfused_opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    unfused = ort.InferenceSession(model_file, unfused_opts, providers=["CPUExecutionProvider"])
    unfused_results = unfused.run(out_names, feeds)
    try:
        stats = source.check(feeds, results, model_file) if source.check else {}
    except SystemExit as e:  # a quantized model may lose accuracy: record, do not abort
        stats = {"check_failed": str(e)}
        log(f"{name}: sanity check failed: {e}")

    files = {"model.onnx": frm.sha256_file(model_file)}

    def save(kind: str, names: list, arrays: list) -> list:
        entries = []
        for n, arr in zip(names, arrays):
            arr = np.asarray(arr)
            rel = f"{kind}/{frm.sanitize(n)}.npy"
            np.save(os.path.join(tmp, rel), arr)
            files[rel] = frm.sha256_file(os.path.join(tmp, rel))
            entries.append({"name": n, "file": rel, "dtype": str(arr.dtype),
                            "shape": list(arr.shape)})
        return entries

    tolerance = "fp16" if variant.startswith("fp16") else "quantized"
    meta = {
        "case": name,
        "description": f"{source.case} ({source.model}), {variant}: see "
                       "scripts/make_quant_models.py for the recipe",
        "variant": variant,
        "source_case": source.case,
        "source_model": source.model,
        "source_model_sha256": src_sha,
        "tolerance": tolerance,
        "generator_version": GENERATOR_VERSION,
        "onnxruntime_version": ORT_VERSION,
        "session_options": {"intra_op_num_threads": 1, "inter_op_num_threads": 1,
                            "providers": ["CPUExecutionProvider"]},
        "input_names": in_names,
        "output_names": out_names,
        "inputs": save("inputs", in_names, [feeds[n] for n in in_names]),
        "outputs": save("outputs", out_names, results),
        "op_histogram": op_histogram(model_file),
        "vs_fp32": {n: compare(r, f) for n, r, f in zip(out_names, results, fp32_outputs)},
        "unfused_vs_fused": {n: compare(u, r) for n, u, r in zip(out_names, unfused_results, results)},
        "stats": stats,
        "files": files,
    }
    with open(os.path.join(tmp, "case.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    if os.path.exists(case_dir):
        shutil.rmtree(case_dir)
    os.rename(tmp, case_dir)
    return meta


def variants_of(source: Source) -> list:
    import onnx

    m = onnx.load(os.path.join(REPO_ROOT, source.model), load_external_data=False)
    has_matmul = any(n.op_type == "MatMul" for n in m.graph.node)
    return [v for v in ALL_VARIANTS if v != "dynamic" or has_matmul]


def build_source(out: str, source: Source, todo: list, src_sha: str) -> list:
    feeds = source.inputs(out)
    src_path = os.path.join(REPO_ROOT, source.model)
    fp32_outputs = frm.make_session(src_path).run(None, feeds)
    metas = []
    with tempfile.TemporaryDirectory(prefix="mote-quant.") as work:
        pre = None
        reader = None
        cache = os.path.join(work, "calibration.json")
        for variant in todo:
            t0 = time.perf_counter()
            dst = os.path.join(work, f"{variant}.onnx")
            if pre is None:
                pre = preprocess(source, work)
            if variant == "dynamic":
                make_dynamic(pre, dst)
            elif variant == "fp16":
                make_fp16(pre, dst, case_name(source, variant))
            elif variant == "fp16_weights":
                make_fp16_weights(pre, dst)
            else:
                if reader is None:
                    reader = Feeds(source.calibration(np.random.default_rng(CALIB_SEED)))
                make_static(pre, dst, variant, reader, cache)
            metas.append(write_case(out, source, variant, dst, src_sha, feeds, fp32_outputs))
            log(f"built {case_name(source, variant)} in {time.perf_counter() - t0:.1f} s")
    return metas


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output dir (default: %(default)s)")
    ap.add_argument("--force", action="store_true", help="rebuild every case")
    args = ap.parse_args()
    out = os.path.abspath(args.out)

    import onnxruntime as ort

    if ort.__version__ != ORT_VERSION:
        raise SystemExit(f"make_quant_models: need onnxruntime {ORT_VERSION}, found "
                         f"{ort.__version__}; use scripts/setup_venv.sh")
    # Quantization and the calibration runs would otherwise use every core of a shared
    # machine; the reference sessions are single-threaded regardless (frm.make_session).
    t_start = time.perf_counter()
    summary = []
    for source in SOURCES:
        if not os.path.isfile(os.path.join(REPO_ROOT, source.model)):
            raise SystemExit(f"make_quant_models: {source.model} is missing: run "
                             "scripts/fetch_real_models.py first")
        src_sha = source_sha(source)
        variants = variants_of(source)
        todo = [v for v in variants
                if args.force or not case_is_current(os.path.join(out, case_name(source, v)),
                                                     src_sha)]
        built = {m["variant"]: m for m in build_source(out, source, todo, src_sha)} if todo \
            else {}
        for v in variants:
            meta = built.get(v)
            if meta is None:
                with open(os.path.join(out, case_name(source, v), "case.json")) as f:
                    meta = json.load(f)
            summary.append((case_name(source, v), "built" if v in built else "cached", meta))

    with open(os.path.join(out, "quant_index.json"), "w") as f:
        json.dump({"generator_version": GENERATOR_VERSION, "onnxruntime_version": ORT_VERSION,
                   "cases": [name for name, _, _ in summary]}, f, indent=2)
        f.write("\n")

    for name, state, meta in summary:
        vs = "; ".join(f"cos {m['cosine']:.5f}, max|d| {m['max_abs_diff']:.3g}"
                       for m in meta["vs_fp32"].values())
        print(f"{name:45s} {state:6s} vs fp32: {vs}")
        print(f"{'':45s}        ops: {json.dumps(meta['op_histogram'])}")
        print(f"{'':45s}        stats: {json.dumps(meta['stats'])}")
    print(f"make_quant_models: {len(summary)} cases in {out} "
          f"({time.perf_counter() - t_start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
