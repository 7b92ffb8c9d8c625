"""Golden data for Pillow 13's resize pass order (python-pillow/Pillow#9549: the vertical pass runs first when
the height shrinks by more than twice the columns the width loses), which CLIP's Resize(224, BICUBIC) inherits.

Pinned: Pillow 13.0.0, torchvision 0.29.2, numpy 2.4.6, opencv-python 5.0.0.93 (the reference venv,
/work/main/.cache/venv-ref/bin/python). Run from the repository root:

    PY tools/golden/clip_pass_order.py [--shared ../shared]

Writes tests/fixtures/golden/clip-preprocess/pass_order.json with two kinds of cases, each a crop (image, box
x1 y1 x2 y2) of a shared test image decoded as the reference decodes it (cv2.imread, BGR, channels reversed):
- `resize` [w, h] + `rgb_sha256` of PIL's `Image.resize((w, h), BICUBIC)` bytes: sizes on both sides of the
  rule's boundary (rows lost = 2 x columns lost, and +1), with the width shrinking, growing or unchanged;
- `clip`: the crop sizes of the text-prompt crops that Pillow 13 resized vertical first on the tiny FastSAM
  fixtures (and their horizontal-first neighbours near the h = 2 w boundary), through torchvision's
  Resize(224, BICUBIC) + CenterCrop(224): `resized_size`, `crop_offset`, `rgb224_sha256`.
"""

import argparse
import os
import sys

import cv2
import numpy as np
from PIL import Image
from torchvision import transforms as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_preprocess import sha, write_golden  # noqa: E402  (same hashing and file layout)

# (crop w, crop h, target w, target h) around the boundary.
RESIZES = [
    (100, 100, 95, 89), (100, 100, 95, 90), (100, 100, 95, 91), (100, 100, 95, 80),
    (100, 300, 90, 279), (100, 300, 90, 280), (100, 300, 90, 281),
    (100, 100, 300, 99), (100, 100, 300, 150), (100, 100, 110, 98), (100, 100, 99, 101),
    (100, 100, 50, 24), (100, 100, 80, 39), (100, 100, 120, 50), (100, 100, 30, 120),
    (60, 50, 20, 40), (50, 60, 40, 20), (40, 200, 39, 100), (200, 40, 100, 39),
]

# Text-prompt crop sizes (w, h): Pillow 13 resized these vertical first (h > 2 w, width shrinking) ...
CLIP_VERTICAL = [
    (225, 468), (225, 492), (226, 523), (228, 799), (230, 469), (231, 685), (233, 495), (239, 482), (257, 573),
    (259, 810), (264, 602), (274, 602), (306, 698), (308, 796), (337, 681), (350, 714), (368, 802), (425, 977),
    (492, 1500), (513, 1274), (542, 1104),
]
# ... and these horizontal first (just below h = 2 w, or upscaled).
CLIP_HORIZONTAL = [(254, 506), (250, 500), (225, 430), (309, 608), (358, 697), (60, 134), (227, 146), (225, 234)]

IMAGES = ["sa_10039.jpg", "sa_8776.jpg", "bus.jpg", "zidane.jpg"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join("..", "shared"))
    ap.add_argument("--out", default="tests/fixtures/golden/clip-preprocess/pass_order.json")
    args = ap.parse_args()
    rng = np.random.default_rng(20261125)
    images = {n: cv2.imread(os.path.join(args.shared, "data", "images", n)) for n in IMAGES}
    resize = T.Resize(224, interpolation=T.InterpolationMode.BICUBIC)
    center = T.CenterCrop(224)

    def crop(n: int, cw: int, ch: int):
        name = next(k for k in IMAGES[n % len(IMAGES) :] + IMAGES if images[k].shape[1] >= cw and images[k].shape[0] >= ch)
        bgr = images[name]
        h, w = bgr.shape[:2]
        x1, y1 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        return name, [x1, y1, x1 + cw, y1 + ch], Image.fromarray(bgr[y1 : y1 + ch, x1 : x1 + cw][:, :, ::-1])

    cases = []
    for n, (cw, ch, tw, th) in enumerate(RESIZES):
        name, box, im = crop(n, cw, ch)
        out = np.asarray(im.resize((tw, th), Image.BICUBIC))
        cases.append({"image": name, "box": box, "resize": [tw, th], "rgb_sha256": sha(out)})
    for n, (cw, ch) in enumerate(CLIP_VERTICAL + CLIP_HORIZONTAL):
        name, box, im = crop(n, cw, ch)
        r = resize(im)
        left, top = int(round((r.size[0] - 224) / 2.0)), int(round((r.size[1] - 224) / 2.0))
        c = np.asarray(center(r))
        cases.append(
            {"image": name, "box": box, "resized_size": list(r.size), "crop_offset": [left, top], "rgb224_sha256": sha(c)}
        )
    write_golden(args.out, "tools/golden/clip_pass_order.py", cases)


if __name__ == "__main__":
    main()
