"""Golden text-prompt selections on synthetic segmentations: FastSAMPredictor.prompt(texts=...) of the reference
(ultralytics 8.4.190, openai-clip 1.0.1, torch 2.15.0, torchvision 0.29.2, pillow 13.0.0, opencv-python 5.0.0.93)
with the tiny CLIP (tests/fixtures/clip/clip-tiny.pt), on Results made of elliptic masks and fractional boxes over
real photos, so the crop, mask multiply, area filter, preprocessing and argmax are checked without FastSAM fixtures.

    PY tools/golden/clip_select_synth.py [--shared ../shared]

Writes tests/fixtures/golden/clip-encoders/select_synth.json. Mask k: pixels with
((x - cx) / rx)**2 + ((y - cy) / ry)**2 <= 1 (float64); box = the given floats; conf = 0.9 - k / 1000.
"""

import argparse
import json
import os
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures", "clip"))
import reference as clipref  # noqa: E402
from ultralytics.engine.results import Results  # noqa: E402
from ultralytics.models.fastsam.predict import FastSAMPredictor  # noqa: E402

PHRASES = ["a dog", "a person", "the yellow bus on the street", "sky", "", "a red car parked near the road", "🐶"]
CASES = [[p] for p in PHRASES] + [["a dog", "sky"], ["a person", "a person"], PHRASES]


def masks_for(rng, w, h, n):
    objs = []
    for k in range(n):
        tiny = k % 7 == 3  # area <= 100: skipped by the reference
        rx = float(rng.uniform(2, 5)) if tiny else float(rng.uniform(8, w / 3))
        ry = float(rng.uniform(2, 5)) if tiny else float(rng.uniform(8, h / 3))
        cx, cy = float(rng.uniform(rx, w - rx)), float(rng.uniform(ry, h - ry))
        x1, y1 = max(0.0, cx - rx - float(rng.uniform(0, 3))), max(0.0, cy - ry - float(rng.uniform(0, 3)))
        x2, y2 = min(float(w), cx + rx + float(rng.uniform(0, 3))), min(float(h), cy + ry + float(rng.uniform(0, 3)))
        objs.append({"cx": cx, "cy": cy, "rx": rx, "ry": ry, "box": [x1, y1, x2, y2]})
    return objs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join("..", "shared"))
    ap.add_argument("--out", default="tests/fixtures/golden/clip-encoders/select_synth.json")
    args = ap.parse_args()
    clip_model = clipref.reference_clip(clipref.TINY_CLIP)
    rng = np.random.default_rng(20261125)
    images = []
    for name in ["bus.jpg", "zidane.jpg", "dogs.jpg"]:
        img = cv2.imread(os.path.join(args.shared, "data", "images", name))
        h, w = img.shape[:2]
        objs = masks_for(rng, w, h, 24)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        masks = np.stack([(((xx - o["cx"]) / o["rx"]) ** 2 + ((yy - o["cy"]) / o["ry"]) ** 2 <= 1.0) for o in objs])
        confs = [0.9 - k / 1000 for k in range(len(objs))]
        boxes = torch.tensor([o["box"] + [c, 0.0] for o, c in zip(objs, confs)], dtype=torch.float32)
        result = Results(img, path=name, names={0: "object"}, boxes=boxes, masks=torch.from_numpy(masks.astype(np.uint8)))
        captured = {}
        fake = SimpleNamespace(device=torch.device("cpu"), clip=clip_model)

        def infer(ims, texts, fake=fake):
            sim = FastSAMPredictor._clip_inference(fake, ims, texts)
            captured["sim"] = sim
            return sim

        fake._clip_inference = infer
        cases = []
        for texts in CASES:
            out = FastSAMPredictor.prompt(fake, [result], texts=texts)[0]
            picked = sorted(int(round((0.9 - float(c)) * 1000)) for c in out.boxes.conf.tolist())
            cases.append({"texts": texts, "selected": picked})
        FastSAMPredictor.prompt(fake, [result], texts=PHRASES)
        sim = captured["sim"]
        keep = [k for k in range(len(objs)) if masks[k].sum() > 100]
        top2 = torch.topk(sim, 2, dim=1).values
        images.append(
            {
                "image": name,
                "objects": objs,
                "areas": [int(m.sum()) for m in masks],
                "crop_ids": keep,
                "similarity": [[float(v) for v in row] for row in sim.tolist()],
                "margins": [float(v) for v in (top2[:, 0] - top2[:, 1]).tolist()],
                "cases": cases,
            }
        )
        print(name, [c["selected"] for c in cases])
    doc = {"generator": "tools/golden/clip_select_synth.py", "versions": clipref.versions(), "phrases": PHRASES, "images": images}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=None, ensure_ascii=False)
    print(args.out, os.path.getsize(args.out))


if __name__ == "__main__":
    main()
