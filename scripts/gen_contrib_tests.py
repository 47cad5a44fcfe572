#!/usr/bin/env python3
"""Generate node tests for onnxruntime's com.microsoft quantized ops.

One small model per op and variant (u8 and i8 where the op allows, a couple of
shapes, per-tensor parameters unless the op has per-channel ones), built with
onnx.helper; the expected outputs are onnxruntime's (CPU provider, one
thread).  Layout as the ONNX node tests (runtime/tests/contrib_ops.rs reads it):

    <out>/<test_name>/model.onnx
    <out>/<test_name>/test_data_set_0/input_<i>.pb
    <out>/<test_name>/test_data_set_0/output_<i>.pb

The data is a function of (GENERATOR_VERSION, onnx, onnxruntime, numpy) and a
fixed seed, recorded in <out>/.done; an up-to-date folder is left alone.

Run with the project venv (scripts/setup_venv.sh):
    "$(scripts/setup_venv.sh)" scripts/gen_contrib_tests.py [--out DIR] [--force]

Default output: <repo>/.cache/contrib-node.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import sys

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, ".cache", "contrib-node")
DONE_FILE = ".done"
# Bump when the generated cases change, so existing caches are regenerated.
GENERATOR_VERSION = 2
SEED = 0


def _versions() -> dict:
    return {
        "onnx_version": importlib.metadata.version("onnx"),
        "onnxruntime_version": importlib.metadata.version("onnxruntime"),
        "numpy_version": importlib.metadata.version("numpy"),
        "generator_version": GENERATOR_VERSION,
    }


class Case:
    """One model: graph inputs with their data, initializers, one contrib node."""

    def __init__(self, name: str, rng: np.random.Generator, opset: int = 13):
        self.name = name
        self.rng = rng
        self.opset = opset
        self.inputs: list[tuple[str, np.ndarray]] = []
        self.inits: list[tuple[str, np.ndarray]] = []
        self.nodes = []
        self.outputs: list[str] = []

    def input(self, name: str, value: np.ndarray) -> str:
        self.inputs.append((name, value))
        return name

    def init(self, name: str, value) -> str:
        self.inits.append((name, np.asarray(value)))
        return name

    def q_input(self, name: str, dtype, shape) -> str:
        """A graph input of random 8-bit values over the type's whole range."""
        info = np.iinfo(dtype)
        v = self.rng.integers(info.min, info.max + 1, size=shape).astype(dtype)
        return self.input(name, v)

    def qparams(self, prefix: str, dtype, scale: float, zp: int, with_zp: bool = True):
        s = self.init(prefix + "_scale", np.float32(scale))
        z = self.init(prefix + "_zp", np.array(zp, dtype=dtype)) if with_zp else ""
        return s, z

    def node(self, op: str, inputs, outputs, **attrs):
        from onnx import helper

        self.nodes.append(
            helper.make_node(op, inputs, outputs, domain="com.microsoft", **attrs)
        )
        self.outputs = list(outputs)

    def model(self):
        from onnx import helper, numpy_helper

        graph = helper.make_graph(
            self.nodes,
            self.name,
            [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
             for n, v in self.inputs],
            # Output types are left to onnxruntime's inference.
            [helper.make_empty_tensor_value_info(n) for n in self.outputs],
            [numpy_helper.from_array(v, n) for n, v in self.inits],
        )
        return helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", self.opset), helper.make_opsetid("com.microsoft", 1)],
            ir_version=9,
        )


# (name suffix, dtype, mid-range zero point) of the two 8-bit types.
TYPES = [("u8", np.uint8, 128), ("i8", np.int8, 0)]


def binary_cases(rng):
    shapes = {"same": ([2, 3, 4, 5], [2, 3, 4, 5]), "bcast": ([2, 3, 4, 5], [1, 3, 1, 1])}
    for op in ("QLinearAdd", "QLinearMul"):
        for t, dt, mid in TYPES:
            for sname, (sa, sb) in shapes.items():
                c = Case(f"{op}_{t}_{sname}", rng)
                a = c.q_input("A", dt, sa)
                b = c.q_input("B", dt, sb)
                out_scale = 0.07 if op == "QLinearAdd" else 0.3
                a_s, a_z = c.qparams("A", dt, 0.031, mid + 3)
                b_s, b_z = c.qparams("B", dt, 0.047, mid - 5)
                c_s, c_z = c.qparams("C", dt, out_scale, mid + 1)
                c.node(op, [a, a_s, a_z, b, b_s, b_z, c_s, c_z], ["C"])
                yield c
        # An omitted output zero point is 0 of the input type. (onnxruntime 1.31 rejects
        # models that write an omitted A/B zero point as "": its type inference fails.)
        for t, dt, mid in TYPES:
            c = Case(f"{op}_{t}_no_output_zero_point", rng)
            a = c.q_input("A", dt, [3, 7])
            b = c.q_input("B", dt, [7])
            a_s, a_z = c.qparams("A", dt, 0.02, mid)
            b_s, b_z = c.qparams("B", dt, 0.03, mid + 4)
            c_s = c.init("C_scale", np.float32(0.05 if op == "QLinearAdd" else 0.6))
            c.node(op, [a, a_s, a_z, b, b_s, b_z, c_s], ["C"])
            yield c


def unary_cases(rng):
    specs = [
        ("QLinearSigmoid", {}, 0.05, 1.0 / 256),
        ("QLinearLeakyRelu", {"alpha": 0.1}, 0.05, 0.04),
    ]
    for op, attrs, x_scale, y_scale in specs:
        for t, dt, mid in TYPES:
            for shape in ([2, 3, 8, 8], [17]):
                c = Case(f"{op}_{t}_r{len(shape)}", rng)
                x = c.q_input("X", dt, shape)
                x_s, x_z = c.qparams("X", dt, x_scale, mid + 2)
                # Sigmoid's output is in [0, 1]: the zero point sits at the bottom of the range.
                y_zp = (0 if dt == np.uint8 else -128) if op == "QLinearSigmoid" else mid - 20
                y_s, y_z = c.qparams("Y", dt, y_scale, y_zp)
                c.node(op, [x, x_s, x_z, y_s, y_z], ["Y"], **attrs)
                yield c


def pool_cases(rng):
    for t, dt, mid in TYPES:
        for shape in ([1, 8, 7, 7], [2, 4, 5, 3]):
            c = Case(f"QLinearGlobalAveragePool_{t}_{shape[2]}x{shape[3]}", rng)
            x = c.q_input("X", dt, shape)
            x_s, x_z = c.qparams("X", dt, 0.04, mid + 7)
            y_s, y_z = c.qparams("Y", dt, 0.01, mid - 3)
            c.node("QLinearGlobalAveragePool", [x, x_s, x_z, y_s, y_z], ["Y"], channels_last=0)
            yield c
        for cip in (0, 1):
            c = Case(f"QLinearAveragePool_{t}_k3s2p1_cip{cip}", rng)
            x = c.q_input("X", dt, [2, 4, 15, 16])
            x_s, x_z = c.qparams("X", dt, 0.04, mid + 7)
            y_s, y_z = c.qparams("Y", dt, 0.02, mid - 3)
            c.node("QLinearAveragePool", [x, x_s, x_z, y_s, y_z], ["Y"],
                   kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=cip)
            yield c


def concat_cases(rng):
    for t, dt, mid in TYPES:
        for axis, shapes in ((1, ([2, 3, 4], [2, 5, 4], [2, 1, 4])), (-1, ([3, 2], [3, 6], [3, 1]))):
            c = Case(f"QLinearConcat_{t}_axis{axis}", rng)
            inputs = [*c.qparams("Y", dt, 0.05, mid)]
            # The second input shares the output's parameters (onnxruntime copies it as is).
            params = [(0.03, mid + 10), (0.05, mid), (0.11, mid - 9)]
            for k, (shape, (s, z)) in enumerate(zip(shapes, params)):
                x = c.q_input(f"X{k}", dt, shape)
                inputs += [x, *c.qparams(f"X{k}", dt, s, z)]
            c.node("QLinearConcat", inputs, ["Y"], axis=axis)
            yield c


def softmax_cases(rng):
    for t, dt, mid in TYPES:
        for opset, axis, shape in ((13, -1, [2, 3, 10]), (12, 1, [2, 3, 4])):
            c = Case(f"QLinearSoftmax_{t}_opset{opset}", rng, opset=opset)
            x = c.q_input("X", dt, shape)
            x_s, x_z = c.qparams("X", dt, 0.06, mid + 1)
            y_zp = 0 if dt == np.uint8 else -128
            y_s, y_z = c.qparams("Y", dt, 1.0 / 256, y_zp)
            c.node("QLinearSoftmax", [x, x_s, x_z, y_s, y_z], ["Y"], axis=axis, opset=opset)
            yield c


def qgemm_cases(rng):
    # u8 activations, s8 per-column weights (what quantize_static emits for Gemm).
    for name, trans_b, quantized_out in (("u8s8", 0, True), ("u8s8_transB_float_out", 1, False)):
        c = Case(f"QGemm_{name}", rng)
        m, k, n = 4, 16, 8
        a = c.q_input("A", np.uint8, [m, k])
        a_s, a_z = c.qparams("A", np.uint8, 0.02, 131)
        w = rng.integers(-127, 128, size=[n, k] if trans_b else [k, n]).astype(np.int8)
        b = c.init("B", w)
        b_s = c.init("B_scale", rng.uniform(0.005, 0.02, size=[n]).astype(np.float32))
        b_z = c.init("B_zp", np.zeros([n], np.int8))
        bias = c.init("C", rng.integers(-3000, 3000, size=[n]).astype(np.int32))
        ins = [a, a_s, a_z, b, b_s, b_z, bias]
        if quantized_out:
            ins += [*c.qparams("Y", np.uint8, 0.3, 120)]
        c.node("QGemm", ins, ["Y"], alpha=1.0, transA=0, transB=trans_b)
        yield c


def lstm_cases(rng):
    for direction, per_channel in (("forward", False), ("bidirectional", True)):
        c = Case(f"DynamicQuantizeLSTM_{direction}", rng)
        seq, batch, inp, hid = 5, 2, 6, 4
        d = 2 if direction == "bidirectional" else 1
        x = c.input("X", rng.normal(0, 1, [seq, batch, inp]).astype(np.float32))
        w = c.init("W", rng.integers(-127, 128, [d, inp, 4 * hid]).astype(np.int8))
        r = c.init("R", rng.integers(-127, 128, [d, hid, 4 * hid]).astype(np.int8))
        bias = c.init("B", rng.normal(0, 0.1, [d, 8 * hid]).astype(np.float32))
        pshape = [d, 4 * hid] if per_channel else [d]
        w_s = c.init("W_scale", rng.uniform(0.002, 0.004, pshape).astype(np.float32))
        w_z = c.init("W_zp", np.zeros(pshape, np.int8))
        r_s = c.init("R_scale", rng.uniform(0.002, 0.004, pshape).astype(np.float32))
        r_z = c.init("R_zp", np.zeros(pshape, np.int8))
        c.node("DynamicQuantizeLSTM", [x, w, r, bias, "", "", "", "", w_s, w_z, r_s, r_z],
               ["Y", "Y_h", "Y_c"], hidden_size=hid, direction=direction)
        yield c


def where_cases(rng):
    for t, dt, mid in TYPES:
        c = Case(f"QLinearWhere_{t}_bcast", rng)
        cond = c.input("cond", rng.integers(0, 2, [2, 1, 5]).astype(bool))
        x = c.q_input("X", dt, [2, 3, 5])
        y = c.q_input("Y", dt, [5])
        ins = [cond, x, *c.qparams("X", dt, 0.03, mid + 2), y, *c.qparams("Y", dt, 0.05, mid - 4),
               *c.qparams("Z", dt, 0.04, mid + 1)]
        c.node("QLinearWhere", ins, ["Z"])
        yield c


GENERATORS = [where_cases, binary_cases, unary_cases, pool_cases, concat_cases, softmax_cases,
              qgemm_cases, lstm_cases]


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def generate(out: str) -> int:
    import onnxruntime as ort
    from onnx import numpy_helper

    tmp = out.rstrip(os.sep) + ".tmp"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    rng = np.random.default_rng(SEED)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    n = 0
    for gen in GENERATORS:
        for case in gen(rng):
            model = case.model()
            d = os.path.join(tmp, case.name)
            ds = os.path.join(d, "test_data_set_0")
            os.makedirs(ds)
            data = model.SerializeToString()
            _write(os.path.join(d, "model.onnx"), data)
            try:
                sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
            except Exception as e:
                raise RuntimeError(f"{case.name}: onnxruntime rejects the model") from e
            results = sess.run(None, dict(case.inputs))
            for j, (name, v) in enumerate(case.inputs):
                _write(os.path.join(ds, f"input_{j}.pb"),
                       numpy_helper.from_array(v, name).SerializeToString())
            for j, (name, v) in enumerate(zip(case.outputs, results)):
                _write(os.path.join(ds, f"output_{j}.pb"),
                       numpy_helper.from_array(np.asarray(v), name).SerializeToString())
            n += 1
    meta = dict(_versions(), tests=n)
    # .done is the completion marker; written last, then the folder is swapped in.
    with open(os.path.join(tmp, DONE_FILE), "w") as f:
        json.dump(meta, f, sort_keys=True)
        f.write("\n")
    if os.path.exists(out):
        shutil.rmtree(out)
    os.rename(tmp, out)
    return n


def is_up_to_date(out: str) -> bool:
    try:
        with open(os.path.join(out, DONE_FILE)) as f:
            done = json.load(f)
    except (OSError, ValueError):
        return False
    return all(done.get(k) == v for k, v in _versions().items())


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default=DEFAULT_OUT, help="output dir (default: %(default)s)")
    ap.add_argument("--force", action="store_true", help="regenerate even if up to date")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    if not args.force and is_up_to_date(out):
        print(f"gen_contrib_tests: up to date in {out}", file=sys.stderr)
    else:
        n = generate(out)
        print(f"gen_contrib_tests: wrote {n} tests into {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
