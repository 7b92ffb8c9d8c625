"""Compare fastsam's JSON output with the reference's, mask by mask.

Both sides use the SA-1B-style JSON of `fastsam segment` (COCO compressed RLE at original resolution).
Matching: each reference mask is paired with the unused output mask of highest IoU (masks come in score
order on both sides, so this is almost always the same index). Figures per image: mask counts, min/mean
IoU of matched pairs, max |bbox| difference (px) and max |score| difference.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils


def load(path: Path) -> dict:
    with open(path) as f:
        return json.load(f)


def _rles(annotations: list[dict]) -> list[dict]:
    out = []
    for a in annotations:
        seg = dict(a["segmentation"])
        seg["counts"] = seg["counts"].encode()
        out.append(seg)
    return out


def compare(ref: dict, ours: dict) -> dict:
    ra, oa = ref["annotations"], ours["annotations"]
    # IoU on the RLEs themselves (pycocotools, C): full-resolution boolean masks would cost minutes per image.
    rr, orr = _rles(ra), _rles(oa)
    iou = np.asarray(mask_utils.iou(rr, orr, [0] * len(orr))) if rr and orr else np.zeros((len(rr), len(orr)))
    iou = iou.reshape(len(rr), len(orr))
    used: set[int] = set()
    ious, box_diff, score_diff = [], 0.0, 0.0
    for i in range(len(rr)):
        best, best_j = -1.0, -1
        for j in np.argsort(-iou[i], kind="stable"):
            if int(j) not in used:
                best, best_j = float(iou[i, j]), int(j)
                break
        if best_j < 0:
            ious.append(0.0)
            continue
        used.add(best_j)
        ious.append(best)
        box_diff = max(box_diff, max(abs(a - b) for a, b in zip(ra[i]["bbox"], oa[best_j]["bbox"])))
        score_diff = max(score_diff, abs(ra[i]["score"] - oa[best_j]["score"]))
    return {
        "file_name": ref["image"]["file_name"],
        "ref_masks": len(ra),
        "our_masks": len(oa),
        "min_iou": min(ious) if ious else 1.0,
        "mean_iou": float(np.mean(ious)) if ious else 1.0,
        "max_box_diff": box_diff,
        "max_score_diff": score_diff,
    }


def passes(r: dict, min_iou=0.98, mean_iou=0.995, box_px=1.0, score=2e-3) -> bool:
    return (
        r["ref_masks"] == r["our_masks"]
        and r["min_iou"] >= min_iou
        and r["mean_iou"] >= mean_iou
        and r["max_box_diff"] <= box_px
        and r["max_score_diff"] <= score
    )


def table(rows: list[dict]) -> str:
    head = "| image | masks ref/ours | min IoU | mean IoU | max box diff (px) | max score diff | ok |\n|---|---|---|---|---|---|---|\n"
    body = "".join(
        f"| {r['file_name']} | {r['ref_masks']}/{r['our_masks']} | {r['min_iou']:.4f} | {r['mean_iou']:.5f} | "
        f"{r['max_box_diff']:.3g} | {r['max_score_diff']:.2e} | {'yes' if passes(r) else 'NO'} |\n"
        for r in rows
    )
    return head + body


if __name__ == "__main__":
    import sys

    rows = [compare(load(Path(a)), load(Path(b))) for a, b in zip(sys.argv[1::2], sys.argv[2::2])]
    print(table(rows))
    sys.exit(0 if all(passes(r) for r in rows) and not any(math.isnan(r["mean_iou"]) for r in rows) else 1)
