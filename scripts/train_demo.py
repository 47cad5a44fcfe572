#!/usr/bin/env python3
"""Train Mote's demo model: a small MLP digit classifier, exported to ONNX.

The model is trained on scikit-learn's bundled 8x8 digits data set (no
download), then written to ONNX *by hand* with onnx.helper so the graph is
exactly what we want Mote to run and nothing else (no converter-specific ops
such as ZipMap or a label output):

    pixels [N,64] f32 (raw 0..16)
      -> Mul(1/16)                     # the training-time scaling, in-graph
      -> Gemm(W1, b1, transB=1) -> Relu
      -> Gemm(W2, b2, transB=1) -> Softmax(axis=-1)
      -> probabilities [N,10] f32

Gemm uses transB=1 with [out,in] weights, the layout PyTorch exports, which is
what real models exercise.  opset 17, IR version 8.

Outputs (committed, small):
    assets/models/digits_mlp.onnx       the model (~20 KB)
    assets/models/digits_test_x.npy     float32 [450,64] raw test pixels
    assets/models/digits_test_y.npy     int64  [450]     test labels

The script checks with onnxruntime that the ONNX model reproduces the
scikit-learn predictions on the test split and prints the accuracy.

Run:  "$(scripts/setup_venv.sh)" scripts/train_demo.py [--out assets/models]
"""
from __future__ import annotations

import os

# Single-threaded BLAS: the machine is shared, and a fixed thread count keeps
# the floating-point reduction order (hence the trained weights) reproducible.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "assets", "models")

SEED = 0
TEST_SIZE = 0.25
PIXEL_MAX = 16.0  # digits pixels are integers in 0..16


def train():
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=TEST_SIZE, random_state=SEED
    )
    clf = MLPClassifier(
        hidden_layer_sizes=(64,),
        activation="relu",
        solver="adam",
        alpha=1e-4,
        max_iter=1000,
        random_state=SEED,
    )
    # A ConvergenceWarning would mean max_iter is too small for this seed;
    # treat it as an error so the committed model is always a converged one.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(x_train / PIXEL_MAX, y_train)
    return clf, x_test, y_test


def export_onnx(clf):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    # coefs_[i] is [in, out]; store transposed ([out, in]) for Gemm transB=1.
    w1 = np.ascontiguousarray(clf.coefs_[0].T, dtype=np.float32)
    b1 = clf.intercepts_[0].astype(np.float32)
    w2 = np.ascontiguousarray(clf.coefs_[1].T, dtype=np.float32)
    b2 = clf.intercepts_[1].astype(np.float32)
    n_in, n_out = w1.shape[1], w2.shape[0]

    inits = [
        # 1/16 is exact in float32, so Mul matches the training-time division.
        numpy_helper.from_array(np.array([1.0 / PIXEL_MAX], np.float32), "pixel_scale"),
        numpy_helper.from_array(w1, "fc1.weight"),
        numpy_helper.from_array(b1, "fc1.bias"),
        numpy_helper.from_array(w2, "fc2.weight"),
        numpy_helper.from_array(b2, "fc2.bias"),
    ]
    nodes = [
        helper.make_node("Mul", ["pixels", "pixel_scale"], ["scaled"], name="scale"),
        helper.make_node("Gemm", ["scaled", "fc1.weight", "fc1.bias"], ["fc1"],
                         name="fc1", transB=1),
        helper.make_node("Relu", ["fc1"], ["hidden"], name="relu"),
        helper.make_node("Gemm", ["hidden", "fc2.weight", "fc2.bias"], ["logits"],
                         name="fc2", transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "digits_mlp",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", n_in])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_out])],
        initializer=inits,
        doc_string="8x8 digit classifier (sklearn digits); input: raw pixels 0..16",
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="mote/scripts/train_demo.py",
        producer_version="1",
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default=DEFAULT_OUT, help="output dir (default: %(default)s)")
    args = ap.parse_args()

    import onnxruntime as ort
    import sklearn

    clf, x_test, y_test = train()
    sk_pred = clf.predict(x_test / PIXEL_MAX)
    sk_acc = float(np.mean(sk_pred == y_test))

    model = export_onnx(clf)
    os.makedirs(args.out, exist_ok=True)
    model_path = os.path.join(args.out, "digits_mlp.onnx")
    with open(model_path, "wb") as f:
        f.write(model.SerializeToString())

    test_x = x_test.astype(np.float32)  # raw 0..16 pixels, as the model expects
    test_y = y_test.astype(np.int64)
    np.save(os.path.join(args.out, "digits_test_x.npy"), test_x)
    np.save(os.path.join(args.out, "digits_test_y.npy"), test_y)

    # Verify the exported file (not the in-memory model) with onnxruntime.
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
    (probs,) = sess.run(["probabilities"], {"pixels": test_x})
    onnx_pred = probs.argmax(axis=1)
    onnx_acc = float(np.mean(onnx_pred == test_y))
    max_prob_diff = float(np.abs(probs - clf.predict_proba(x_test / PIXEL_MAX)).max())

    print(f"train_demo: sklearn {sklearn.__version__}, onnxruntime {ort.__version__}, "
          f"iterations {clf.n_iter_}")
    print(f"train_demo: test split {len(test_y)} samples")
    print(f"train_demo: sklearn accuracy {sk_acc:.4f}  onnx accuracy {onnx_acc:.4f}  "
          f"max |prob diff| {max_prob_diff:.2e}")
    print(f"train_demo: wrote {model_path} ({os.path.getsize(model_path)} bytes)")
    if not np.array_equal(onnx_pred, sk_pred):
        print("train_demo: ERROR: ONNX predictions differ from scikit-learn's", file=sys.stderr)
        return 1
    if onnx_acc != sk_acc:
        print("train_demo: ERROR: ONNX accuracy differs from scikit-learn's", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
