"""Runs an ONNX model with onnxruntime (CPU, one thread) for calibrate's tests.

usage: ort_run.py REQUEST.json
REQUEST: {"model": path, "inputs": {name: npy path}, "out_dir": path}
Writes out_dir/<index>.npy per output, and out_dir/io.json with the graph inputs and outputs as
onnxruntime sees them (name, type, shape with symbolic dims as strings), plus the model's
ir_version and opset imports.
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main() -> int:
    req = json.load(open(sys.argv[1]))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(req["model"], so, providers=["CPUExecutionProvider"])
    feeds = {k: np.load(v) for k, v in req.get("inputs", {}).items()}
    os.makedirs(req["out_dir"], exist_ok=True)
    if feeds:
        outs = sess.run(None, feeds)
        for i, o in enumerate(outs):
            np.save(os.path.join(req["out_dir"], f"{i}.npy"), np.ascontiguousarray(o))
    m = onnx.load(req["model"])
    io = {
        "inputs": [[i.name, i.type, [str(d) for d in i.shape]] for i in sess.get_inputs()],
        "outputs": [[o.name, o.type, [str(d) for d in o.shape]] for o in sess.get_outputs()],
        "ir_version": m.ir_version,
        "opsets": sorted([[o.domain, o.version] for o in m.opset_import]),
        "ops": sorted({n.op_type for n in m.graph.node}),
    }
    json.dump(io, open(os.path.join(req["out_dir"], "io.json"), "w"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
