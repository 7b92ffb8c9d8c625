"""Goldens for the prompt options beyond the reference (crates/fastsam/tests/prompt_options.rs):

- smooth.json: the FastSAM authors' `better_quality` (cv2.morphologyEx CLOSE 3x3, then OPEN 8x8, OpenCV's
  default anchor and border) applied by OpenCV itself to every mask of the reference's everything files
  (tests/fixtures/reference/<model>/<image>.everything.json.gz), stored as SHA-256 digests of the row-major
  0/1 bytes plus areas, and to small random masks touching the borders (stored as COCO RLE).
- text.json: `--text-threshold` / `--text-top-k` selections computed from the reference's own CLIP cosines
  (tests/fixtures/reference-text/<model>/<image>.text.json: openai-clip on the reference's crops), with the
  gaps around each cut so a test can tell a decision it must match from a tie.
- per_point.json: one-object-per-click selections computed from the reference's masks and scores.

Run from the repository root with the pinned reference venv (opencv-python 5.0.0.93, pycocotools 2.0.11,
numpy 2.4.6):

    PY=$(tools/fixtures/setup.sh); $PY tools/golden/prompt_options.py
"""

import gzip
import hashlib
import json
import pathlib

import cv2
import numpy as np
from pycocotools import mask as mask_utils

OUT = pathlib.Path("tests/fixtures/golden/prompt-options")
MODELS = ["fastsam-s-tiny", "fastsam-x-tiny"]
IMAGES = ["bus", "cat", "coco_train2017_000000000086", "dogs", "sa_10039", "sa_11025", "sa_561", "sa_8776", "zidane"]
PHRASES = ["a dog", "a person", "the sky", "a photo of a dog"]


def better_quality(mask):
    """FastSAM's utils/tools.py fast_process(better_quality=True), per mask."""
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((8, 8), np.uint8))


def digest(mask):
    return hashlib.sha256(np.ascontiguousarray(mask, dtype=np.uint8).tobytes()).hexdigest()[:32]


def everything(model, image):
    path = pathlib.Path(f"tests/fixtures/reference/{model}/{image}.everything.json.gz")
    with gzip.open(path, "rt") as f:
        return json.load(f)


def decode(ann):
    rle = {"size": ann["segmentation"]["size"], "counts": ann["segmentation"]["counts"].encode()}
    return mask_utils.decode(rle).astype(np.uint8)


def encode(mask):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode()}


def smooth_golden():
    files = []
    for model in MODELS:
        for image in IMAGES:
            anns = everything(model, image)["annotations"]
            masks = [decode(a) for a in anns]
            smoothed = [better_quality(m) for m in masks]
            files.append({
                "everything": f"tests/fixtures/reference/{model}/{image}.everything.json.gz",
                "input_sha256": [digest(m) for m in masks],
                "smoothed_sha256": [digest(s) for s in smoothed],
                "smoothed_area": [int(s.sum()) for s in smoothed],
            })
    rng = np.random.default_rng(17)
    synthetic = []
    for k in range(24):
        h, w = int(rng.integers(9, 40)), int(rng.integers(9, 40))
        # Blobs of noise, some touching the borders, some thin: every border and anchor case shows.
        m = (rng.random((h, w)) < [0.3, 0.6, 0.85][k % 3]).astype(np.uint8)
        if k % 4 == 0:
            m[:, : w // 3] = 1
        if k % 4 == 1:
            m[h - 2 :, :] = 1
        synthetic.append({"input": encode(m), "smoothed": encode(better_quality(m))})
    return {"generator": "tools/golden/prompt_options.py", "opencv": cv2.__version__, "files": files,
            "synthetic": synthetic}


def cut_cases(ids, scores):
    """Threshold and top-k cases over one phrase's scored masks; each with the smallest gap that decides it."""
    order = sorted(range(len(ids)), key=lambda c: -scores[c])  # stable: ties keep column order, like ours
    s = [scores[c] for c in order]
    # Smallest gap between consecutive selected masks: the order inside the selection is only insisted on
    # when it is larger than the similarity tolerance.
    def inner_gap(n):
        return min((s[i] - s[i + 1] for i in range(n - 1)), default=1.0)

    cases = []
    for k in [1, 3, 5]:
        if k < len(s):
            cases.append({"top_k": k, "selected": [ids[c] for c in order[:k]], "cut_gap": s[k - 1] - s[k],
                          "inner_gap": inner_gap(k)})
    for n in [2, 4, len(s) // 2]:
        if 0 < n < len(s):
            t = (s[n - 1] + s[n]) / 2
            cases.append({"threshold": t, "selected": [ids[c] for c in order[:n]], "cut_gap": (s[n - 1] - s[n]) / 2,
                          "inner_gap": inner_gap(n)})
            if n > 1:
                cases.append({"threshold": t, "top_k": 1, "selected": [ids[order[0]]], "cut_gap": s[0] - s[1],
                              "inner_gap": 1.0})
    # A threshold above every score selects nothing.
    cases.append({"threshold": min(1.0, s[0] + 0.01), "selected": [], "cut_gap": 0.01, "inner_gap": 1.0})
    return cases


def text_golden():
    files = []
    for model in MODELS:
        for image in IMAGES:
            path = f"tests/fixtures/reference-text/{model}/{image}.text.json"
            j = json.loads(pathlib.Path(path).read_text())
            ids = j["crop_ids"]
            if not ids:
                continue
            entries = []
            for phrase in PHRASES:
                row = [float(np.float32(v)) for v in j["similarity"][j["phrases"].index(phrase)]]
                entries.append({"phrase": phrase, "scores": dict(zip(map(str, ids), row)),
                                "cases": cut_cases(ids, row)})
            files.append({"text": path, "everything": f"tests/fixtures/reference/{model}/{image}.everything.json.gz",
                          "phrases": entries})
    return {"generator": "tools/golden/prompt_options.py", "files": files}


def per_point(masks, scores, points, labels):
    """For each foreground point in order: the highest-scoring mask (first among equals) containing it and no
    background point; points truncated and clipped to the image as the reference does. A mask an earlier point
    already selected is not repeated (it keeps that point's index)."""
    h, w = masks[0].shape
    xy = [(min(max(int(x), 0), w - 1), min(max(int(y), 0), h - 1)) for x, y in points]
    bg = [p for p, l in zip(xy, labels) if l == 0]
    out = []
    for k, ((x, y), label) in enumerate(zip(xy, labels)):
        if label != 1:
            continue
        best = None
        for i, m in enumerate(masks):
            if m[y, x] and not any(m[by, bx] for bx, by in bg):
                if best is None or scores[i] > scores[best]:
                    best = i
        if best is not None and all(b != best for _, b in out):
            out.append([k, best])
    return out


def per_point_golden():
    rng = np.random.default_rng(1717)
    files = []
    for model in MODELS:
        for image in IMAGES:
            anns = everything(model, image)["annotations"]
            masks = [decode(a) for a in anns]
            scores = np.array([a["score"] for a in anns], dtype=np.float32)
            h, w = masks[0].shape
            cases = []
            for _ in range(12):
                n = int(rng.integers(1, 5))
                points, labels = [], []
                for _ in range(n):
                    if rng.random() < 0.7:
                        # A pixel of a random mask, so clicks land on objects.
                        ys, xs = np.nonzero(masks[int(rng.integers(len(masks)))])
                        j = int(rng.integers(len(xs)))
                        x, y = float(xs[j]) + 0.5, float(ys[j]) + 0.25
                    else:
                        x, y = float(rng.uniform(-20, w + 20)), float(rng.uniform(-20, h + 20))
                    points.append([x, y])
                    labels.append(1 if rng.random() < 0.75 else 0)
                cases.append({"points": points, "labels": labels, "selected": per_point(masks, scores, points, labels)})
            files.append({"everything": f"tests/fixtures/reference/{model}/{image}.everything.json.gz",
                          "cases": cases})
    return {"generator": "tools/golden/prompt_options.py", "files": files}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in [("smooth.json", smooth_golden), ("text.json", text_golden), ("per_point.json", per_point_golden)]:
        (OUT / name).write_text(json.dumps(make(), separators=(",", ":")) + "\n")
        print(OUT / name, (OUT / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
