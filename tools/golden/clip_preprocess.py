"""Golden data for CLIP preprocessing: PIL `Image.resize(size, BICUBIC)` and the reference's
Resize(224, BICUBIC) + CenterCrop(224) on many crops of the shared test images.

Pinned: Pillow 13.0.0, torchvision 0.29.2, numpy 2.4.6, opencv-python 5.0.0.93 (the reference venv,
/work/main/.cache/venv-ref/bin/python). Run from the repository root:

    PY tools/golden/clip_preprocess.py [--shared ../shared]

Writes tests/fixtures/golden/clip-encoders/preprocess.json. Each case: image file, crop box (x1, y1, x2, y2),
then either `resize` [w, h] with the sha256 of PIL's RGB output bytes (arbitrary sizes, up- and downscaling,
one axis only), or `clip` with the transform's resized size, crop offset and the sha256 of the 224x224 RGB.
Crops are decoded as the reference decodes them (cv2.imread, BGR sliced, channels reversed).
"""

import argparse
import hashlib
import json
import os

import cv2
import numpy as np
import PIL
import torchvision
from PIL import Image
from torchvision import transforms as T

IMAGES = ["bus.jpg", "zidane.jpg", "dogs.jpg", "cat.jpg", "sa_561.jpg", "coco_train2017_000000000086.jpg"]


def sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join("..", "shared"))
    ap.add_argument("--out", default="tests/fixtures/golden/clip-encoders/preprocess.json")
    args = ap.parse_args()
    rng = np.random.default_rng(20261125)
    resize = T.Resize(224, interpolation=T.InterpolationMode.BICUBIC)
    crop = T.CenterCrop(224)
    cases = []
    for name in IMAGES:
        bgr = cv2.imread(os.path.join(args.shared, "data", "images", name))
        h, w = bgr.shape[:2]
        for i in range(24):
            # Small and large crops, extreme aspect ratios included.
            cw = int(rng.integers(1, min(w, 64 if i % 3 == 0 else w) + 1))
            ch = int(rng.integers(1, min(h, 64 if i % 3 == 1 else h) + 1))
            x1, y1 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            box = [x1, y1, x1 + cw, y1 + ch]
            im = Image.fromarray(bgr[y1 : y1 + ch, x1 : x1 + cw][:, :, ::-1])
            if i % 2 == 0:
                tw = cw if i % 8 == 0 else int(rng.integers(1, 400))
                th = ch if i % 8 == 4 else int(rng.integers(1, 400))
                out = np.asarray(im.resize((tw, th), Image.BICUBIC))
                cases.append({"image": name, "box": box, "resize": [tw, th], "rgb_sha256": sha(out)})
            else:
                r = resize(im)
                c = np.asarray(crop(r))
                left, top = int(round((r.size[0] - 224) / 2.0)), int(round((r.size[1] - 224) / 2.0))
                cases.append(
                    {"image": name, "box": box, "resized_size": list(r.size), "crop_offset": [left, top], "rgb224_sha256": sha(c)}
                )
    write_golden(args.out, "tools/golden/clip_preprocess.py", cases)


def write_golden(out: str, generator: str, cases: list) -> None:
    """The golden file: its generator, the versions that made it, the cases."""
    doc = {
        "generator": generator,
        "versions": {"pillow": PIL.__version__, "torchvision": torchvision.__version__, "numpy": np.__version__, "opencv": cv2.__version__},
        "cases": cases,
    }
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"{out}: {len(cases)} cases")


if __name__ == "__main__":
    main()
