"""Golden data: the crop the reference's text prompt feeds CLIP for EVERY scored mask of the committed text
selections (tests/fixtures/reference-text/<model>/<image>.text.json records it for 6 masks of one image only).
It separates the two causes a similarity can differ by: the crop itself (stage-1 mask pixels or the truncated
box) or what happens to it afterwards (CLIP preprocessing, encoding).

Pinned: ultralytics 8.4.190, torch 2.15.0, torchvision 0.29.2, pillow 13.0.0, opencv-python 5.0.0.93,
numpy 2.4.6 (the reference venv, /work/main/.cache/venv-ref/bin/python). Run from the repository root, with
FASTSAM_SHARED pointing at the shared data when ../shared is not beside the repository:

    PY tools/golden/clip_text_crops.py tests/fixtures/fastsam/fastsam-{s,x}-tiny.pt

Writes tests/fixtures/golden/clip-text-crops/crops.json: {model stem: {image stem: {"crop_ids": [...],
"boxes": [[x1, y1, x2, y2], ...], "crop_sha256": [first 16 hex digits of the sha256 of the RGB crop, ...]}}},
built by tools/fixtures/clip/text_prompts.py's `reference_crops` (FastSAMPredictor.prompt's own statements:
int()-truncated adjusted box, BGR slice x mask, channels reversed) on the reference 'everything' result of
tools/fixtures/reference.py (imgsz 1024, conf 0.4, iou 0.9, retina masks, max_det 300).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools/fixtures/clip"))

import numpy as np  # noqa: E402
import text_prompts  # noqa: E402  (imports torch, PIL, the reference's CLIP helpers)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpts", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=REPO / "tests/fixtures/golden/clip-text-crops/crops.json")
    args = ap.parse_args()
    fsr = text_prompts.load_fastsam_reference(REPO / "tools/fixtures")
    fsr.quiet_imports()
    doc = {"generator": "tools/golden/clip_text_crops.py", "versions": text_prompts.clipref.versions(), "models": {}}
    for ckpt in args.ckpts:
        model = fsr.load_model(ckpt)
        per_image = {}
        for image in fsr.default_images():
            result = fsr.everything(model, image)
            keep, crops, boxes = text_prompts.reference_crops(result) if len(result) else ([], [], [])
            digests = [hashlib.sha256(np.ascontiguousarray(np.asarray(c)).tobytes()).hexdigest()[:16] for c in crops]
            per_image[image.stem] = {"crop_ids": keep, "boxes": [list(b) for b in boxes], "crop_sha256": digests}
            print(f"{ckpt.stem} {image.name}: {len(keep)} crops", flush=True)
        doc["models"][ckpt.stem] = per_image
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"{args.out}: {args.out.stat().st_size:,} B")


if __name__ == "__main__":
    main()
