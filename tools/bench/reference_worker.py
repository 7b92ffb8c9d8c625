"""One measurement of the reference or of the bare engine, in its own process (so peak RSS is its own).

    python reference_worker.py reference MODEL.pt IMGSZ RUNS PROMPTS [--clip CLIP.pt --text-images N] IMAGE...
    python reference_worker.py engine GRAPH.onnx IMGSZ RUNS IMAGE...

Prints one JSON object. The reference is Ultralytics FastSAM with the FastSAM authors' defaults; the engine
baseline is Python onnxruntime running the same ONNX graph fastsam runs, on an already letterboxed tensor.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if v else None


THREADS = int(os.environ.get("BENCH_THREADS", "0")) or None


PHRASES = ["a bus", "the red car", "a person walking", "a dog on the grass", "the sky", "a window", "wheels", "a shoe"]


def text_latencies(predictor, result, clip_path: str, image_index: int, out: dict) -> None:
    """The reference's text prompt after segmentation: it crops and encodes every mask on each call (no cache),
    so its first and later phrases cost the same; both are recorded (`clip` loaded beforehand, not timed)."""
    if not hasattr(predictor, "clip"):
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures/clip"))
        from reference import reference_clip  # tools/fixtures/clip/reference.py: clip.load on a local file

        predictor.clip = reference_clip(Path(clip_path))
    for k in range(3):
        t = time.perf_counter()
        predictor.prompt(result, texts=[f"{PHRASES[k]} {image_index}"])
        out["text_first_ms" if k == 0 else "text_new_ms"].append((time.perf_counter() - t) * 1e3)


def reference(model_path: str, imgsz: int, runs: int, prompts: int, images: list[str], clip_path=None,
              text_images: int = 0) -> dict:
    t0 = time.perf_counter()
    import torch
    from ultralytics import FastSAM

    model = FastSAM(model_path)
    kw = dict(imgsz=imgsz, conf=0.4, iou=0.9, retina_masks=True, max_det=300, device="cpu", verbose=False)
    model(images[0], **kw)  # the reference sets up its predictor on the first call
    cold = time.perf_counter() - t0
    # Setting up the predictor sets torch's threads to Ultralytics' NUM_THREADS (cores - 1, so 1 on 2 cores);
    # every implementation here gets the same threads: --threads, else all cores.
    torch.set_num_threads(THREADS or os.cpu_count())
    predictor = model.predictor
    rows, point_ms, box_ms = [], [], []
    text = {"text_first_ms": [], "text_new_ms": []}
    for i, path in enumerate(images):
        model(path, **kw)
        e2e = []
        for _ in range(runs):
            t = time.perf_counter()
            result = model(path, **kw)[0]
            e2e.append(time.perf_counter() - t)
        rows.append({"file": Path(path).name, "masks": len(result), "e2e_s": e2e})
        h, w = result.orig_shape
        for k in range(prompts):
            fx, fy = (k * 0.618034) % 1.0, (k * 0.754878) % 1.0
            t = time.perf_counter()
            predictor.prompt(result, points=[[fx * w, fy * h]], labels=[1])
            point_ms.append((time.perf_counter() - t) * 1e3)
            bw, bh = w * (0.1 + 0.4 * fy), h * (0.1 + 0.4 * fx)
            t = time.perf_counter()
            predictor.prompt(result, bboxes=[[fx * w, fy * h, fx * w + bw, fy * h + bh]])
            box_ms.append((time.perf_counter() - t) * 1e3)
        if clip_path and i < text_images:
            text_latencies(predictor, result, clip_path, i, text)
    return {
        "implementation": "reference (ultralytics FastSAM)",
        "imgsz": imgsz,
        "torch_threads": torch.get_num_threads(),
        "cold_start_s": cold,
        "images": rows,
        "select_point_ms_p50": median(point_ms),
        "select_box_ms_p50": median(box_ms),
        "text_first_phrase_ms_p50": median(text["text_first_ms"]),
        "text_new_phrase_ms_p50": median(text["text_new_ms"]),
        "peak_rss_mb": peak_rss_mb(),
    }


def engine(graph: str, imgsz: int, runs: int, images: list[str]) -> dict:
    t0 = time.perf_counter()
    import cv2
    import numpy as np
    import onnxruntime as ort
    from ultralytics.data.augment import LetterBox

    options = ort.SessionOptions()
    if THREADS:
        options.intra_op_num_threads = THREADS
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    cold = time.perf_counter() - t0
    name = session.get_inputs()[0].name
    rows = []
    for path in images:
        img = LetterBox((imgsz, imgsz), auto=True, stride=32)(image=cv2.imread(path))
        x = np.ascontiguousarray(img[None].transpose(0, 3, 1, 2)[:, ::-1]).astype(np.float32) / 255.0
        session.run(None, {name: x})
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            session.run(None, {name: x})
            times.append(time.perf_counter() - t)
        rows.append({"file": Path(path).name, "forward_s": times, "input": list(x.shape)})
    return {"implementation": "onnxruntime (Python), forward only", "imgsz": imgsz, "cold_start_s": cold,
            "images": rows, "peak_rss_mb": peak_rss_mb()}


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["reference", "engine"])
    ap.add_argument("model")
    ap.add_argument("imgsz", type=int)
    ap.add_argument("runs", type=int)
    ap.add_argument("rest", nargs="+", help="reference: PROMPTS IMAGE...; engine: IMAGE...")
    ap.add_argument("--clip", help="CLIP checkpoint for text-prompt timing (reference only)")
    ap.add_argument("--text-images", type=int, default=2)
    a = ap.parse_intermixed_args()
    if a.kind == "reference":
        out = reference(a.model, a.imgsz, a.runs, int(a.rest[0]), a.rest[1:], a.clip, a.text_images)
    else:
        out = engine(a.model, a.imgsz, a.runs, a.rest)
    print(json.dumps(out))
