#!/usr/bin/env python3
"""Fetch real-world ONNX models and record onnxruntime reference outputs.

Mote's end-to-end tests run models people actually deploy on devices, not
only ONNX's single-op node tests.  The models come from two PyPI wheels (PyPI
is the only model source we are allowed to use; no model hubs):

    rapidocr-onnxruntime==1.4.4  PaddleOCR PP-OCRv4 detector + recogniser and
                                 the PP-OCR mobile v2.0 text-direction classifier
    silero-vad==6.2.3            Silero VAD v6 (LSTM voice-activity detector,
                                 with an If on the sample rate)

Each model's sha256 is pinned below; a mismatch aborts.  For every test case
the script synthesises a fixed, realistic input (rendered text for OCR, a
synthetic voiced utterance for VAD), runs onnxruntime 1.31.1 single-threaded
and stores everything as:

    .cache/real-models/<case>/model.onnx
    .cache/real-models/<case>/inputs/<input_name>.npy    (graph input order)
    .cache/real-models/<case>/outputs/<output_name>.npy  (graph output order)
    .cache/real-models/<case>/case.json
    .cache/real-models/index.json                        (list of cases)

File names are the tensor names with every character outside [A-Za-z0-9._-]
replaced by "_" (e.g. "save_infer_model/scale_0.tmp_1"); case.json records
the real names, in order, and each file's sha256.

Inputs are sanity-checked against what the models are known to do (the
detector lights up on the text, the recogniser reads the rendered line back,
the classifier says "upright", the VAD says "speech"), so the reference
outputs are meaningful rather than the response to garbage.

The run is idempotent: a case whose case.json matches this script's version,
the pinned model hash and the hashes of its files is left alone; wheels are
kept in .cache/real-models/wheels/ and downloaded once.

Run:  "$(scripts/setup_venv.sh)" scripts/fetch_real_models.py [--out DIR] [--force]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from typing import Callable

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, ".cache", "real-models")

# Bump when inputs or layout change, so cached cases are regenerated.
GENERATOR_VERSION = 1
# Reference outputs are only meaningful for the pinned onnxruntime.
ORT_VERSION = "1.31.1"


@dataclass(frozen=True)
class Wheel:
    requirement: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class Model:
    wheel: str  # key into WHEELS
    member: str  # path inside the wheel
    sha256: str


WHEELS = {
    "rapidocr": Wheel(
        "rapidocr-onnxruntime==1.4.4",
        "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
        "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
    ),
    "silero": Wheel(
        "silero-vad==6.2.3",
        "silero_vad-6.2.3-py3-none-any.whl",
        "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8",
    ),
}

MODELS = {
    "ch_PP-OCRv4_det_infer": Model(
        "rapidocr", "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"),
    "ch_PP-OCRv4_rec_infer": Model(
        "rapidocr", "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
        "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"),
    "ch_ppocr_mobile_v2.0_cls_infer": Model(
        "rapidocr", "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c"),
    "silero_vad": Model(
        "silero", "silero_vad/data/silero_vad.onnx",
        "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"),
}


def log(msg: str) -> None:
    print(f"fetch_real_models: {msg}", file=sys.stderr)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sanitize(name: str) -> str:
    """Tensor name -> file-name stem (ONNX names may contain '/', ':' ...)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


# --------------------------------------------------------------------------
# Model acquisition
# --------------------------------------------------------------------------

def fetch_wheel(key: str, wheel_dir: str) -> str:
    """Download (once) and hash-check one wheel; return its path."""
    w = WHEELS[key]
    path = os.path.join(wheel_dir, w.filename)
    if not (os.path.exists(path) and sha256_file(path) == w.sha256):
        os.makedirs(wheel_dir, exist_ok=True)
        log(f"downloading {w.requirement}")
        # The venv's own pip, so the proxy/index configuration of the user
        # applies; --only-binary: these are pure-Python py3-none-any wheels, and
        # an sdist would need building.  --no-deps: we only want the files.
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "--no-input", "--disable-pip-version-check", "--quiet",
             "--dest", wheel_dir, w.requirement],
            check=True, stdout=sys.stderr,
        )
        if not os.path.exists(path):
            raise SystemExit(f"fetch_real_models: pip did not produce {w.filename}")
        got = sha256_file(path)
        if got != w.sha256:
            raise SystemExit(
                f"fetch_real_models: sha256 mismatch for {w.filename}:\n"
                f"  expected {w.sha256}\n  got      {got}")
    return path


def model_bytes(stem: str, wheel_dir: str) -> bytes:
    """The pinned model's bytes, extracted from its wheel and hash-checked."""
    m = MODELS[stem]
    with zipfile.ZipFile(fetch_wheel(m.wheel, wheel_dir)) as z:
        data = z.read(m.member)
    got = sha256_bytes(data)
    if got != m.sha256:
        raise SystemExit(
            f"fetch_real_models: sha256 mismatch for {m.member}:\n"
            f"  expected {m.sha256}\n  got      {got}")
    return data


def make_session(model_path: str):
    import onnxruntime as ort

    # Single-threaded, as the brief for reference data demands: results must
    # not depend on the machine's core count (parallel reductions reorder
    # floating-point sums).
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])


# --------------------------------------------------------------------------
# OCR inputs
# --------------------------------------------------------------------------

BACKGROUND = (250, 250, 247)  # off-white paper
INK = (15, 15, 15)
# Receipt-like page for the detector: words, numbers, punctuation, several
# font sizes, and a column layout whose gaps split some lines into boxes.
DET_LINES = [
    ("INVOICE No. 2024-0117", 40),
    ("Date: 12 March 2024", 28),
    ("Item        Qty   Price", 28),
    ("Coffee beans  2   18.50", 28),
    ("Green tea     5    7.25", 28),
    ("Oat milk      3    3.90", 28),
    ("Total due:  71.15 EUR", 34),
    ("Thank you for your order!", 26),
    ("Tel +49 30 1234 5678", 24),
]
REC_TEXT = "Total due: 71.15 EUR"
CLS_TEXT = "Thank you for your order!"
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def font(size: int):
    from PIL import ImageFont

    # Pillow >= 10.1 bundles a scalable TrueType font behind load_default(size);
    # using it (rather than a system font) keeps rendering identical on every
    # machine with the pinned Pillow.  The bitmap fallback is ~11 px tall,
    # far too small to be realistic text, so refuse it.
    f = ImageFont.load_default(size=size)
    if not isinstance(f, ImageFont.FreeTypeFont):
        raise SystemExit("fetch_real_models: Pillow lacks FreeType; cannot render text")
    return f


def render_page(size: int = 640):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(img)
    y = 30
    for text, pt in DET_LINES:
        draw.text((36, y), text, fill=INK, font=font(pt))
        y += int(pt * 1.9)
    return img


def render_line(text: str, pt: int = 40):
    """One tightly cropped text line (8 px margin), as the detector would crop."""
    from PIL import Image, ImageDraw

    f = font(pt)
    left, top, right, bottom = f.getbbox(text)
    img = Image.new("RGB", (right - left + 16, bottom - top + 16), BACKGROUND)
    ImageDraw.Draw(img).text((8 - left, 8 - top), text, fill=INK, font=f)
    return img


def det_preprocess(img) -> np.ndarray:
    # PaddleOCR's DB detector preprocessing: scale to [0,1], ImageNet
    # mean/std, HWC -> NCHW.
    a = np.asarray(img, np.float32) / 255.0
    a = (a - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(a.transpose(2, 0, 1)[None], dtype=np.float32)


def line_preprocess(img, height: int, width: int) -> np.ndarray:
    # PaddleOCR's rec/cls preprocessing (resize_norm_img): resize to the
    # target height keeping the aspect ratio (width capped), normalise to
    # [-1,1], and zero-pad on the right up to the fixed width.
    from PIL import Image

    w0, h0 = img.size
    rw = min(width, int(np.ceil(height * w0 / h0)))
    img = img.resize((rw, height), Image.BILINEAR)
    a = (np.asarray(img, np.float32) / 255.0 - 0.5) / 0.5
    out = np.zeros((3, height, width), np.float32)
    out[:, :, :rw] = a.transpose(2, 0, 1)
    return out[None]


def det_inputs(sess) -> dict:
    return {"x": det_preprocess(render_page())}


def rec_inputs(sess) -> dict:
    return {"x": line_preprocess(render_line(REC_TEXT), 48, 320)}


def cls_inputs(sess) -> dict:
    return {"x": line_preprocess(render_line(CLS_TEXT), 48, 192)}


def det_check(inputs, outputs, model_path) -> dict:
    import scipy.ndimage as ndi

    prob = outputs[0][0, 0]
    # "Text region": the rendered ink, dilated by a few pixels, since DB
    # predicts shrunk text boxes around the glyphs rather than the strokes.
    ink = np.asarray(render_page().convert("L")) < 128
    region = ndi.binary_dilation(ink, iterations=6)
    stats = {
        "mean": float(prob.mean()),
        "max": float(prob.max()),
        "frac_above_0.3": float((prob > 0.3).mean()),
        "text_region_frac": float(region.mean()),
        "mass_in_text_region": float(prob[region].sum() / max(prob.sum(), 1e-12)),
        "mean_in_text_region": float(prob[region].mean()),
        "mean_outside": float(prob[~region].mean()),
    }
    if not (stats["max"] > 0.9 and stats["mass_in_text_region"] > 0.8
            and stats["frac_above_0.3"] > 0.02):
        raise SystemExit(f"fetch_real_models: detector does not see the text: {stats}")
    return stats


def rec_check(inputs, outputs, model_path) -> dict:
    import onnx

    # Greedy CTC decoding with the character set stored in the model's
    # metadata (as RapidOCR does): index 0 is the CTC blank, the last class a
    # space.  Reading the rendered line back proves the input is realistic.
    meta = {p.key: p.value for p in onnx.load(model_path).metadata_props}
    chars = ["<blank>"] + meta["character"].splitlines() + [" "]
    probs = outputs[0][0]
    idx = probs.argmax(axis=1)
    text, prev = [], 0
    for i in idx:
        if i != prev and i != 0:
            text.append(chars[i])
        prev = i
    text = "".join(text)
    stats = {"decoded": text, "mean_max_prob": float(probs.max(axis=1).mean())}
    if text != REC_TEXT:
        raise SystemExit(f"fetch_real_models: recogniser read {text!r}, expected {REC_TEXT!r}")
    return stats


def cls_check(inputs, outputs, model_path) -> dict:
    p = outputs[0][0]
    stats = {"p_0deg": float(p[0]), "p_180deg": float(p[1])}
    if not p[0] > 0.9:
        raise SystemExit(f"fetch_real_models: classifier thinks the line is rotated: {stats}")
    return stats


# --------------------------------------------------------------------------
# VAD input: synthetic voiced speech
# --------------------------------------------------------------------------

# Formant frequencies / bandwidths (Hz) of adult male vowels (Peterson &
# Barney style values), F1..F4.
VOWELS = {
    "a": [(730, 90), (1090, 110), (2440, 170), (3400, 250)],
    "i": [(270, 60), (2290, 100), (3010, 150), (3500, 250)],
    "u": [(300, 60), (870, 80), (2240, 150), (3300, 250)],
}
VOWEL_SEQUENCE = ["a", "i", "u", "a", "i"]
VAD_SEED = 0
VAD_UTTERANCE_S = 1.5
# The case is the chunk at this index of the stream (0.64 s in, mid-vowel);
# the chunks before it are run through the model to build the LSTM state and
# 64/32-sample context exactly as silero's OnnxWrapper does when streaming.
VAD_CASE_CHUNK = 20


def synth_speech(sr: int, dur: float = VAD_UTTERANCE_S, seed: int = VAD_SEED) -> np.ndarray:
    """Source-filter synthesis of a voiced utterance: /a i u a i/.

    Glottal source: a Rosenberg pulse train with a slowly varying pitch
    (120..190 Hz), differentiated (lip radiation), plus a little aspiration
    noise.  Vocal tract: four cascaded 2-pole formant resonators whose
    frequencies glide between vowels, updated every 10 ms.  A syllabic
    amplitude envelope (~3.5 Hz) and faint background noise complete it.
    Plain sines or noise do not fool Silero; this does (p > 0.9 mid-stream).
    """
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(sr * dur)
    t = np.arange(n) / sr
    f0 = 150 + 30 * np.sin(2 * np.pi * 0.7 * t) + 10 * np.sin(2 * np.pi * 3.1 * t)
    ph = np.cumsum(f0 / sr) % 1.0
    # Rosenberg glottal flow: rising cosine over 40% of the period, falling
    # over 16%, closed for the rest.
    flow = np.where(ph < 0.4, 0.5 * (1 - np.cos(np.pi * ph / 0.4)),
                    np.where(ph < 0.56, np.cos(np.pi * (ph - 0.4) / 0.32), 0.0))
    src = np.diff(flow, prepend=0.0) + 0.02 * rng.standard_normal(n) * flow

    frame = sr // 100
    seg = n / len(VOWEL_SEQUENCE)
    out = np.zeros(n)
    zi = [np.zeros(2) for _ in range(4)]
    for s in range(0, n, frame):
        k = int(s / seg)
        frac = s / seg - k
        cur = VOWELS[VOWEL_SEQUENCE[min(k, len(VOWEL_SEQUENCE) - 1)]]
        nxt = VOWELS[VOWEL_SEQUENCE[min(k + 1, len(VOWEL_SEQUENCE) - 1)]]
        w = np.clip((frac - 0.7) / 0.3, 0.0, 1.0)  # glide in the last 30%
        x = src[s:s + frame]
        for j in range(4):
            freq = (1 - w) * cur[j][0] + w * nxt[j][0]
            bw = (1 - w) * cur[j][1] + w * nxt[j][1]
            r = np.exp(-np.pi * bw / sr)
            theta = 2 * np.pi * freq / sr
            # Filter state is carried across frames so coefficient updates
            # do not click.
            x, zi[j] = lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], x, zi=zi[j])
        out[s:s + frame] = x

    env = 0.6 + 0.4 * np.sin(2 * np.pi * 3.5 * t - np.pi / 2) ** 2
    env *= np.minimum(1.0, np.minimum(t / 0.05, (dur - t) / 0.05))  # 50 ms fades
    y = out * env
    y = 0.5 * y / np.abs(y).max()
    y += 0.003 * rng.standard_normal(n)
    return y.astype(np.float32)


def vad_stream_inputs(sess, sr: int, chunk_index: int) -> dict:
    """Inputs of call number `chunk_index` when streaming the utterance.

    Mirrors silero_vad.utils_vad.OnnxWrapper.__call__: chunks of 512 samples
    at 16 kHz (256 at 8 kHz), each prefixed with the last 64 (32) samples of
    the previous model input (zeros at first), state [2,1,128] carried over.
    The model itself expects the prefixed length (576 / 288): fed a bare 512,
    ORT runs but the result is meaningless.
    """
    chunk = 512 if sr == 16000 else 256
    context = 64 if sr == 16000 else 32
    audio = synth_speech(sr)
    ctx = np.zeros((1, context), np.float32)
    state = np.zeros((2, 1, 128), np.float32)
    srt = np.array(sr, np.int64)
    for i in range(chunk_index + 1):
        x = np.concatenate([ctx, audio[None, i * chunk:(i + 1) * chunk]], axis=1)
        if i == chunk_index:
            return {"input": x, "state": state, "sr": srt}
        _, state = sess.run(None, {"input": x, "state": state, "sr": srt})
        ctx = x[:, -context:]
    raise AssertionError("unreachable")


def vad_check_speech(inputs, outputs, model_path) -> dict:
    p = float(outputs[0].reshape(-1)[0])
    if not p > 0.5:
        raise SystemExit(f"fetch_real_models: VAD speech probability only {p:.3f}")
    return {"speech_prob": p}


def vad_check_any(inputs, outputs, model_path) -> dict:
    # The first chunk of a stream (zero state, zero context) gives a lower
    # probability for any audio -- the LSTM has not integrated evidence yet --
    # so only require a valid probability here.
    p = float(outputs[0].reshape(-1)[0])
    if not 0.0 <= p <= 1.0:
        raise SystemExit(f"fetch_real_models: VAD output {p} is not a probability")
    return {"speech_prob": p}


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    model: str  # key into MODELS
    description: str
    make_inputs: Callable  # (session) -> {input name: array}
    check: Callable  # (inputs, outputs, model_path) -> stats dict


CASES = [
    Case("ch_PP-OCRv4_det_infer", "ch_PP-OCRv4_det_infer",
         "PP-OCRv4 DB text detector on a rendered 640x640 receipt page "
         "(ImageNet mean/std normalisation)", det_inputs, det_check),
    Case("ch_PP-OCRv4_rec_infer", "ch_PP-OCRv4_rec_infer",
         f"PP-OCRv4 SVTR recogniser on the rendered line {REC_TEXT!r} "
         "(48x320, (x/255-0.5)/0.5, right zero padding)", rec_inputs, rec_check),
    Case("ch_ppocr_mobile_v2.0_cls_infer", "ch_ppocr_mobile_v2.0_cls_infer",
         f"PP-OCR mobile v2.0 0/180-degree classifier on the rendered line {CLS_TEXT!r} "
         "(48x192, (x/255-0.5)/0.5, right zero padding)", cls_inputs, cls_check),
    Case("silero_vad", "silero_vad",
         f"Silero VAD v6, 16 kHz, streaming call #{VAD_CASE_CHUNK} over a synthetic "
         "voiced utterance (64-sample context + 512 samples, carried LSTM state)",
         lambda s: vad_stream_inputs(s, 16000, VAD_CASE_CHUNK), vad_check_speech),
    Case("silero_vad_sr8k", "silero_vad",
         f"Silero VAD v6, 8 kHz, streaming call #{VAD_CASE_CHUNK} over the same utterance "
         "synthesised at 8 kHz (32-sample context + 256 samples, carried LSTM state)",
         lambda s: vad_stream_inputs(s, 8000, VAD_CASE_CHUNK), vad_check_speech),
    Case("silero_vad_first_chunk", "silero_vad",
         "Silero VAD v6, 16 kHz, first call of a stream: zero context + the first "
         "512 samples of the utterance, zero state", lambda s: vad_stream_inputs(s, 16000, 0),
         vad_check_any),
]


def case_is_current(case: Case, case_dir: str) -> bool:
    """True when case.json matches this script and every file's hash."""
    try:
        with open(os.path.join(case_dir, "case.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    if (meta.get("generator_version") != GENERATOR_VERSION
            or meta.get("onnxruntime_version") != ORT_VERSION
            or meta.get("model_sha256") != MODELS[case.model].sha256):
        return False
    files = meta.get("files", {})
    if "model.onnx" not in files:
        return False
    for rel, digest in files.items():
        path = os.path.join(case_dir, rel)
        if not os.path.isfile(path) or sha256_file(path) != digest:
            return False
    return True


def build_case(case: Case, out: str, wheel_dir: str) -> dict:
    case_dir = os.path.join(out, case.name)
    tmp = case_dir + ".tmp"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(os.path.join(tmp, "inputs"))
    os.makedirs(os.path.join(tmp, "outputs"))
    model_path = os.path.join(tmp, "model.onnx")
    with open(model_path, "wb") as f:
        f.write(model_bytes(case.model, wheel_dir))

    sess = make_session(model_path)
    in_names = [i.name for i in sess.get_inputs()]
    out_names = [o.name for o in sess.get_outputs()]
    feeds = case.make_inputs(sess)
    if sorted(feeds) != sorted(in_names):
        raise SystemExit(f"fetch_real_models: {case.name}: inputs {sorted(feeds)} "
                         f"!= model inputs {in_names}")
    results = sess.run(out_names, feeds)
    stats = case.check(feeds, results, model_path)

    files = {"model.onnx": sha256_file(model_path)}

    def save(kind: str, names: list, arrays: list) -> list:
        stems = [sanitize(n) for n in names]
        if len(set(stems)) != len(stems):
            raise SystemExit(f"fetch_real_models: {case.name}: {kind} names collide "
                             f"after sanitising: {names}")
        entries = []
        for name, stem, arr in zip(names, stems, arrays):
            arr = np.asarray(arr)
            rel = f"{kind}/{stem}.npy"
            np.save(os.path.join(tmp, rel), arr)
            files[rel] = sha256_file(os.path.join(tmp, rel))
            entries.append({"name": name, "file": rel, "dtype": str(arr.dtype),
                            "shape": list(arr.shape)})
        return entries

    meta = {
        "case": case.name,
        "description": case.description,
        "source": {"requirement": WHEELS[MODELS[case.model].wheel].requirement,
                   "member": MODELS[case.model].member},
        "model_sha256": MODELS[case.model].sha256,
        "generator_version": GENERATOR_VERSION,
        "onnxruntime_version": ORT_VERSION,
        "session_options": {"intra_op_num_threads": 1, "inter_op_num_threads": 1,
                            "providers": ["CPUExecutionProvider"]},
        "input_names": in_names,
        "output_names": out_names,
        "inputs": save("inputs", in_names, [feeds[n] for n in in_names]),
        "outputs": save("outputs", out_names, results),
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


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default=DEFAULT_OUT, help="output dir (default: %(default)s)")
    ap.add_argument("--force", action="store_true", help="rebuild every case")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    wheel_dir = os.path.join(out, "wheels")

    import onnxruntime as ort

    if ort.__version__ != ORT_VERSION:
        raise SystemExit(f"fetch_real_models: need onnxruntime {ORT_VERSION} for the "
                         f"reference outputs, found {ort.__version__}; use scripts/setup_venv.sh")

    os.makedirs(out, exist_ok=True)
    summary = []
    for case in CASES:
        case_dir = os.path.join(out, case.name)
        if not args.force and case_is_current(case, case_dir):
            with open(os.path.join(case_dir, "case.json")) as f:
                meta = json.load(f)
            state = "cached"
        else:
            log(f"building {case.name}")
            meta = build_case(case, out, wheel_dir)
            state = "built"
        summary.append((case.name, state, meta))

    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"generator_version": GENERATOR_VERSION,
                   "onnxruntime_version": ORT_VERSION,
                   "cases": [name for name, _, _ in summary]}, f, indent=2)
        f.write("\n")

    for name, state, meta in summary:
        shapes = ", ".join(f"{e['name']}{e['shape']}" for e in meta["inputs"])
        print(f"{name:32s} {state:6s} in: {shapes}")
        print(f"{'':32s}        stats: {json.dumps(meta['stats'])}")
    print(f"fetch_real_models: {len(summary)} cases in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
