"""Writes tests/fixtures/labelstudio/brush-rle.json: masks and their Label Studio brush RLE as the SDK itself
encodes them (label_studio_sdk.converter.brush.mask2rle, the encoder of Label Studio's ML backend examples).
Masks are given as rows of 0/1 or as unions of rectangles [x0, y0, x1, y1) to keep the file small.

Run with the venv of tools/test-labelstudio.sh: .cache/venv-labelstudio/bin/python tools/labelstudio/golden_rle.py
"""

import json
import os

import numpy as np
from label_studio_sdk.converter.brush import mask2rle

CASES = [
    {"width": 7, "height": 5, "rows": ["1001001", "0010010", "0100100", "1001001", "0010010"]},
    {"width": 1, "height": 1, "rows": ["1"]},
    {"width": 5, "height": 3, "rows": ["00000", "00000", "00000"]},
    # Runs touching across rows, and runs longer than one 16-bit block (65536 values).
    {"width": 300, "height": 300, "rects": [[150, 0, 300, 300]]},
    {"width": 200, "height": 400, "rects": [[0, 0, 200, 400]]},
    {"width": 257, "height": 130, "rects": [[3, 2, 250, 120], [0, 125, 1, 126], [100, 121, 101, 130]]},
]


def mask_of(case):
    m = np.zeros((case["height"], case["width"]), dtype=np.uint8)
    for y, row in enumerate(case.get("rows", [])):
        m[y] = [int(c) for c in row]
    for x0, y0, x1, y1 in case.get("rects", []):
        m[y0:y1, x0:x1] = 1
    return m


out = [dict(case, rle=[int(v) for v in mask2rle(mask_of(case) * 255)]) for case in CASES]
path = os.path.join(os.path.dirname(__file__), "../../tests/fixtures/labelstudio/brush-rle.json")
with open(path, "w") as f:
    json.dump(out, f)
    f.write("\n")
