"""One measurement of the reference or of the bare engine, in its own process (so peak RSS is its own).

    python reference_worker.py reference MODEL.pt IMGSZ RUNS PROMPTS IMAGE...
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


def reference(model_path: str, imgsz: int, runs: int, prompts: int, images: list[str]) -> dict:
    t0 = time.perf_counter()
    import torch
    from ultralytics import FastSAM

    if THREADS:
        torch.set_num_threads(THREADS)

    model = FastSAM(model_path)
    kw = dict(imgsz=imgsz, conf=0.4, iou=0.9, retina_masks=True, max_det=300, device="cpu", verbose=False)
    model(images[0], **kw)  # the reference sets up its predictor on the first call
    cold = time.perf_counter() - t0
    predictor = model.predictor
    rows, point_ms, box_ms = [], [], []
    for path in images:
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
    return {
        "implementation": "reference (ultralytics FastSAM)",
        "imgsz": imgsz,
        "cold_start_s": cold,
        "images": rows,
        "select_point_ms_p50": median(point_ms),
        "select_box_ms_p50": median(box_ms),
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
    kind, model = sys.argv[1], sys.argv[2]
    imgsz, runs = int(sys.argv[3]), int(sys.argv[4])
    if kind == "reference":
        out = reference(model, imgsz, runs, int(sys.argv[5]), sys.argv[6:])
    else:
        out = engine(model, imgsz, runs, sys.argv[5:])
    print(json.dumps(out))
