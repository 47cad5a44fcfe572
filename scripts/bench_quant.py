#!/usr/bin/env python3
"""Latency of Mote on the INT8/FP16 variants written by make_quant_models.py, beside
onnxruntime on the same files and Mote on the FP32 source models, as a markdown table.

    "$(scripts/setup_venv.sh)" scripts/bench_quant.py [--threads 1,2] [--runs 10] [--only SUBSTR]

Per variant and thread count: Mote's median (`mote bench --json`, the case's own inputs),
onnxruntime's median (one session, ORT_ENABLE_ALL, intra-op threads = N, the same inputs,
same number of timed runs after one warm-up), Mote's median on the FP32 source model, and the
ratios Mote/ORT (below 1.0: Mote is faster) and Mote variant / Mote FP32 (below 1.0: the
variant pays off). Every measurement runs in its own process, one after another.
Not a test: timings are noisy on a shared machine; compare only numbers from one run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = os.path.join(REPO_ROOT, ".cache", "real-models")
MOTE = os.path.join(REPO_ROOT, "target", "release", "mote")


def ort_worker(model: str, inputs: dict, threads: int, runs: int) -> None:
    """Child process: print ORT's median ms as JSON."""
    import numpy as np
    import onnxruntime as ort

    feeds = {name: np.load(path) for name, path in inputs.items()}
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    sess.run(None, feeds)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"median_ms": statistics.median(times)}))


def mote_ms(model: str, inputs: dict, threads: int, runs: int):
    cmd = [MOTE, "bench", model, "--threads", str(threads), "--runs", str(runs), "--json"]
    for name, path in inputs.items():
        cmd += ["--input", f"{name}={path}"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["failed"])[-1]
        return None, last
    return json.loads(p.stdout.strip().splitlines()[-1])["median_ms"], None


def ort_ms(model: str, inputs: dict, threads: int, runs: int) -> float:
    p = subprocess.run([sys.executable, __file__, "--ort-worker",
                        json.dumps({"model": model, "inputs": inputs, "threads": threads,
                                    "runs": runs})],
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])["median_ms"]


def fmt(x, digits=2):
    return "n/a" if x is None else f"{x:.{digits}f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=10, help="timed runs per measurement")
    ap.add_argument("--only", default="", help="only cases whose name contains this")
    ap.add_argument("--ort-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ort_worker:
        w = json.loads(args.ort_worker)
        ort_worker(w["model"], w["inputs"], w["threads"], w["runs"])
        return 0

    index = os.path.join(CASES, "quant_index.json")
    if not os.path.isfile(index):
        sys.exit(f"bench_quant: {index} is missing: run scripts/make_quant_models.py")
    if not os.access(MOTE, os.X_OK):
        sys.exit("bench_quant: build Mote first: cargo build --release -p mote-cli")
    threads = [int(t) for t in args.threads.split(",")]
    with open(index) as f:
        names = [n for n in json.load(f)["cases"] if args.only in n]

    fp32 = {}  # (source model, threads) -> ms
    rows = []
    errors = {}
    for name in names:
        case_dir = os.path.join(CASES, name)
        with open(os.path.join(case_dir, "case.json")) as f:
            meta = json.load(f)
        model = os.path.join(case_dir, "model.onnx")
        inputs = {e["name"]: os.path.join(case_dir, e["file"]) for e in meta["inputs"]}
        source = os.path.join(REPO_ROOT, meta["source_model"])
        for t in threads:
            m, err = mote_ms(model, inputs, t, args.runs)
            if err:
                errors[name] = err
            o = ort_ms(model, inputs, t, args.runs)
            if (source, t) not in fp32:
                fp32[(source, t)] = mote_ms(source, inputs, t, args.runs)[0]
            f32 = fp32[(source, t)]
            rows.append((meta["source_case"], meta["variant"], t, m, o, f32))
            print(f"bench_quant: {name} threads={t}: mote {fmt(m)} ms, ort {fmt(o)} ms, "
                  f"mote fp32 {fmt(f32)} ms", file=sys.stderr, flush=True)

    print("| model | variant | threads | Mote ms | ORT ms | Mote/ORT | Mote FP32 ms "
          "| variant/FP32 (Mote) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for src, variant, t, m, o, f32 in rows:
        ratio = None if m is None else m / o
        speedup = None if m is None or f32 is None else m / f32
        print(f"| {src} | {variant} | {t} | {fmt(m)} | {fmt(o)} | {fmt(ratio)} | {fmt(f32)} "
              f"| {fmt(speedup)} |")
    for name, err in errors.items():
        print(f"\n{name}: Mote failed: {err}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
