"""Writes PP-OCR text-line inputs rendered by scripts/make_quant_models.py (the images its
reference quantized models were calibrated on, for the same seed) as one float32 .npy batch.

usage: ppocr_lines.py WIDTH ROTATE_HALF(0|1) SEED_OFFSET OUT.npy
       ppocr_lines.py det COUNT SEED_OFFSET OUT.npy   (detector pages, 640x640)
SEED_OFFSET 0 gives the calibration set; another offset gives held-out images.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../../scripts"))
import make_quant_models as m  # noqa: E402

offset, out = int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(m.CALIB_SEED + offset)
if sys.argv[1] == "det":
    feeds = m.det_calibration(rng)[: int(sys.argv[2])]
else:
    feeds = m.line_calibration(rng, int(sys.argv[1]), sys.argv[2] == "1")
np.save(out, np.concatenate([f["x"] for f in feeds]).astype(np.float32))
