#!/usr/bin/env bash
# Prints issue #3's speed targets: SGEMM 1024³ vs the core's FMA peak, and each PP-OCR model and
# the demo model against onnxruntime (1 and 2 threads) and tract, measured in one run; and issue
# #4's: the INT8/FP16 variants against onnxruntime and Mote's FP32 (scripts/bench_quant.py).
# The model comparison uses the team's peer harness (../shared/bench) when it is there.
# Not a test: timings are noisy on a shared machine; compare only numbers from one run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p mote-cli -p mote-benches --bins >/dev/null
echo "== SGEMM"
target/release/sgemm_peak
# Issue #4: the INT8/FP16 variants (scripts/make_quant_models.py) against onnxruntime on the
# same files and against Mote's FP32 latency.
if [[ -f .cache/real-models/quant_index.json ]]; then
    echo "== INT8 / FP16 variants"
    "$(scripts/setup_venv.sh)" scripts/bench_quant.py --threads 1,2
else
    echo "== INT8 / FP16 variants: run scripts/make_quant_models.py first, skipped"
fi
harness=../shared/bench/run.sh
if [[ ! -x $harness ]]; then
    echo "== models: $harness not found, skipped"
    exit 0
fi
models=(
    ".cache/real-models/ch_PP-OCRv4_det_infer/model.onnx x=1x3x640x640"
    ".cache/real-models/ch_PP-OCRv4_rec_infer/model.onnx x=1x3x48x320"
    ".cache/real-models/ch_ppocr_mobile_v2.0_cls_infer/model.onnx x=1x3x48x192"
    "assets/models/digits_mlp.onnx pixels=1x64"
)
for entry in "${models[@]}"; do
    read -r model shape <<<"$entry"
    echo "== $model"
    shape_args=()
    if [[ -n ${shape:-} ]]; then
        shape_args=(--shape "$shape")
    fi
    "$harness" "$model" "${shape_args[@]}" --threads 1,2 \
        --mote 'target/release/mote bench {model} --threads {threads} --json {shapes}'
done
