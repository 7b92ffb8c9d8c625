#!/usr/bin/env python3
"""Golden data for the YOLOv8-seg graph builder (crates/fastsam/src/model/yolov8_seg.rs).

Pinned versions (the reference environment, /work/main/.cache/venv-ref):
    ultralytics 8.4.190, torch 2.15.0, onnx 1.23.2, onnxruntime 1.31.1, numpy, opencv-python 5.0.0.93

Subcommands
    golden            tiny random checkpoints + the reference forward outputs -> tests/fixtures/golden/graph/
    full {s,x}        a full-size random FastSAM-s/-x shaped checkpoint -> .cache/graph/fastsam-{s,x}-random.pt, and
                      the reference forward on the test image letterboxed to 1024 (…-random.{input.u8,preds.f32,proto.f32})
    check MODEL.onnx  onnx.checker (full check) and one onnxruntime run of a graph written by the Rust builder
    bench MODEL.onnx  median forward time of a .onnx at 1024x1024 under Python onnxruntime (2 threads)
    reference CKPT    median forward time of the reference (AutoBackend, fused, fp32) at 1024x1024

Checkpoints are saved as the official FastSAM files are: torch.save of a dict whose 'model' is the whole pickled
SegmentationModel in fp16 ('ema' None, 'train_args' a dict). The reference outputs come from loading that file
back through ultralytics' AutoBackend (fp32, Conv+BN fused), i.e. exactly what FastSAM's predictor runs.
"""

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fixtures/golden/graph"
SHARED = next((p for p in (ROOT.parent / "shared", Path("/work/shared")) if p.is_dir()), ROOT.parent / "shared")
IMAGE = "bus.jpg"

# (depth, width, max_channels) for the FastSAM shapes; the tiny fixtures shrink only the width.
SCALES = {"s": (0.33, 0.50, 1024), "x": (1.00, 1.25, 512)}
TINY_WIDTH = 1 / 16


def seg_yaml(depth, width, max_channels, nm=32, reg_max=16):
    from ultralytics.nn.tasks import yaml_model_load

    d = copy.deepcopy(yaml_model_load("yolov8-seg.yaml"))
    d.pop("scales", None)
    d.pop("scale", None)
    d.update(nc=1, depth_multiple=depth, width_multiple=width, reg_max=reg_max)
    d["head"][-1][3] = ["nc", nm, 256]
    # max_channels is only honoured through `scales`, so re-add a single scale
    d["scales"] = {"z": [depth, width, max_channels]}
    d["scale"] = "z"
    return d


def tiny_yaml(head):
    """A three-conv backbone (strides 8) with the given head, for the wrong-task error tests."""
    backbone = [[-1, 1, "Conv", [8, 3, 2]], [-1, 1, "Conv", [8, 3, 2]], [-1, 1, "Conv", [8, 3, 2]]]
    return {"nc": 1, "reg_max": 1, "backbone": backbone, "head": [head]}


def randomise_bn(model, gen):
    """Non-trivial BatchNorm statistics (so folding is exercised) that keep activations tame."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 0.4 + 0.6 * torch.rand(n, generator=gen)
            m.bias.data = 0.1 * torch.randn(n, generator=gen)
            m.running_mean.data = 0.1 * torch.randn(n, generator=gen)
            m.running_var.data = 0.5 + torch.rand(n, generator=gen)


def randomise_head(model, gen):
    """Spread the head's outputs: Ultralytics' bias init makes every DFL softmax nearly uniform and every score
    ~1e-3, which would hide a mis-ordered softmax axis or a missing sigmoid."""
    head = model.model[-1]
    for branch, bias_mean, gain in ((head.cv2, 0.0, 4.0), (head.cv3, 0.0, 2.0), (head.cv4, 0.0, 1.0)):
        for seq in branch:
            last = seq[-1]
            last.weight.data *= gain
            last.bias.data = bias_mean + 2.0 * torch.randn(last.bias.shape, generator=gen)


def save_checkpoint(model, path, task="segment"):
    """torch.save like the official FastSAM files: the whole model object, fp16."""
    path.parent.mkdir(parents=True, exist_ok=True)
    m = copy.deepcopy(model).half()
    for p in m.parameters():
        p.requires_grad_(False)
    ckpt = {
        "date": "2024-01-01T00:00:00",
        "version": "8.0.120",
        "model": m,
        "ema": None,
        "optimizer": None,
        "train_args": {"task": task, "imgsz": 1024, "single_cls": False},
        "epoch": -1,
    }
    torch.save(ckpt, path)


def make_seg_model(scale, width=None, seed=0, old_sppf=True, nm=32, reg_max=16):
    from ultralytics.nn.tasks import SegmentationModel

    depth, w, max_ch = SCALES[scale]
    torch.manual_seed(seed)
    model = SegmentationModel(seg_yaml(depth, width or w, max_ch, nm, reg_max), ch=3, nc=1, verbose=False)
    gen = torch.Generator().manual_seed(seed + 1)
    randomise_bn(model, gen)
    randomise_head(model, gen)
    if old_sppf:
        # Ultralytics 8.0.x (which wrote the FastSAM files) had SiLU after SPPF.cv1; 8.4 has Identity.
        for m in model.modules():
            if type(m).__name__ == "SPPF":
                m.cv1.act = torch.nn.SiLU()
    return model.eval()


def reference_forward(ckpt_path, x):
    """The reference's forward: AutoBackend (fp32, fused) on an NCHW float input."""
    from ultralytics.nn.autobackend import AutoBackend

    backend = AutoBackend(str(ckpt_path), device=torch.device("cpu"), fp16=False, fuse=True, verbose=False)
    with torch.no_grad():
        y = backend(torch.from_numpy(x))
    preds, proto = (y[0], y[1]) if isinstance(y, (list, tuple)) and len(y) == 2 else y[0]
    if isinstance(preds, (list, tuple)):
        preds, proto = preds
    return preds.float().numpy(), proto.float().numpy()


def letterboxed_input(size, auto):
    """(1,3,H,W) float32 in [0,1] from the test image, letterboxed by the reference's LetterBox, plus its bytes."""
    import cv2
    from ultralytics.data.augment import LetterBox

    img = cv2.imread(str(SHARED / "data/images" / IMAGE))
    lb = LetterBox(new_shape=(size, size), auto=auto, stride=32)(image=img)
    chw = np.ascontiguousarray(lb[:, :, ::-1].transpose(2, 0, 1))  # BGR HWC -> RGB CHW, as the predictor does
    x = torch.from_numpy(chw)[None].float().div_(255).numpy()
    return x, chw


def write_f32(name, a):
    a = np.ascontiguousarray(a, dtype="<f4")
    (OUT / name).write_bytes(a.tobytes())
    return {"file": name, "shape": list(a.shape)}


def summary(name, a, step):
    """Compact golden for a large tensor: every `step`-th value (flat order) + per-channel float64 sums."""
    flat = a.reshape(-1)
    entry = write_f32(name, flat[::step])
    entry.update(
        shape=list(a.shape),
        step=step,
        channel_sum=a.astype(np.float64).sum(axis=(0, 2, 3)).tolist(),
        channel_abs_sum=np.abs(a.astype(np.float64)).sum(axis=(0, 2, 3)).tolist(),
    )
    return entry


def golden(args):
    from ultralytics.nn.tasks import ClassificationModel, DetectionModel

    OUT.mkdir(parents=True, exist_ok=True)
    meta = {
        "generator": "tools/golden/graph.py golden",
        "versions": versions(),
        "image": f"shared/data/images/{IMAGE}",
        "models": {},
    }

    x, chw = letterboxed_input(128, auto=True)
    (OUT / "input.u8").write_bytes(chw.tobytes())
    meta["input"] = {"file": "input.u8", "shape": list(chw.shape), "note": "RGB CHW uint8; model input = u8 / 255"}

    square, square_chw = letterboxed_input(96, auto=False)
    (OUT / "input_square.u8").write_bytes(square_chw.tobytes())
    meta["input_square"] = {"file": "input_square.u8", "shape": list(square_chw.shape)}

    # Widths are tiny to keep the files small; the box head alone is ~190k parameters with reg_max=16.
    variants = {
        # FastSAM-s topology with the official head (nm=32, reg_max=16) and SPPF.cv1 with SiLU, as in FastSAM-s.pt
        "seg_s": dict(scale="s", width=1 / 64, seed=1, old_sppf=True),
        # FastSAM-x depth; Ultralytics 8.4-style SPPF (Identity act); nm=8 and reg_max=4 check that they are read,
        # not assumed
        "seg_x": dict(scale="x", width=1 / 32, seed=2, old_sppf=False, nm=8, reg_max=4),
    }
    for name, kw in variants.items():
        model = make_seg_model(**kw)
        ckpt = OUT / f"{name}.pt"
        save_checkpoint(model, ckpt)
        preds, proto = reference_forward(ckpt, x)
        meta["models"][name] = {
            "checkpoint": ckpt.name,
            "input": "input",
            "preds": write_f32(f"{name}.preds.f32", preds),
            "proto": summary(f"{name}.proto.f32", proto, 7),
        }
        print(name, "preds", preds.shape, "proto", proto.shape, file=sys.stderr)

    # An Ultralytics ONNX export (fixed square input) of a third tiny model, whose .pt is not kept: the golden is
    # the reference forward of that .pt on the square input.
    tmp = ROOT / ".cache/graph/seg_export.pt"
    save_checkpoint(make_seg_model("s", width=1 / 64, seed=5, nm=8, reg_max=4), tmp)
    export = export_onnx(tmp, square.shape[-1], OUT / "seg_export.onnx")
    preds, proto = reference_forward(tmp, square)
    meta["models"]["seg_export"] = {
        "checkpoint": export.name,
        "input": "input_square",
        "preds": write_f32("seg_export.preds.f32", preds),
        "proto": summary("seg_export.proto.f32", proto, 7),
    }

    torch.manual_seed(3)
    det = DetectionModel(tiny_yaml([[2], 1, "Detect", ["nc"]]), ch=3, nc=1, verbose=False).eval()
    save_checkpoint(det, OUT / "detect.pt", task="detect")
    export_onnx(OUT / "detect.pt", 64, OUT / "detect.onnx")
    torch.manual_seed(4)
    cls = ClassificationModel(tiny_yaml([-1, 1, "Classify", ["nc"]]), ch=3, nc=1, verbose=False).eval()
    save_checkpoint(cls, OUT / "classify.pt", task="classify")
    meta["errors"] = {"detect": "detect.pt", "detect_export": "detect.onnx", "classify": "classify.pt"}

    (OUT / "golden.json").write_text(json.dumps(meta, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)", file=sys.stderr)


def export_onnx(ckpt, imgsz, dst):
    from ultralytics import YOLO

    try:
        out = YOLO(str(ckpt)).export(format="onnx", imgsz=imgsz, simplify=False, dynamic=False, opset=17)
    except AssertionError as e:
        # The exporter's sanity check refuses files under 0.1 MB after writing them completely; tiny is the point.
        if "too small" not in str(e):
            raise
        out = Path(ckpt).with_suffix(".onnx")
    os.replace(out, dst)
    return dst


def full(args):
    model = make_seg_model(args.scale, seed=10)
    dst = ROOT / ".cache/graph" / f"fastsam-{args.scale}-random.pt"
    save_checkpoint(model, dst)
    x, chw = letterboxed_input(1024, auto=True)
    preds, proto = reference_forward(dst, x)
    stem = dst.with_suffix("")
    Path(f"{stem}.input.u8").write_bytes(chw.tobytes())
    Path(f"{stem}.preds.f32").write_bytes(np.ascontiguousarray(preds, "<f4").tobytes())
    Path(f"{stem}.proto.f32").write_bytes(np.ascontiguousarray(proto, "<f4").tobytes())
    shapes = {"input": [1, *chw.shape], "preds": list(preds.shape), "proto": list(proto.shape)}
    Path(f"{stem}.json").write_text(json.dumps(shapes) + "\n")
    print(dst)


def check(args):
    import onnx
    import onnxruntime as ort

    m = onnx.load(args.model)
    onnx.checker.check_model(m, full_check=True)
    print("onnx.checker: ok;", len(m.graph.node), "nodes, opset", m.opset_import[0].version)
    sess = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    shape = [d if isinstance(d, int) else 256 for d in sess.get_inputs()[0].shape]
    outs = sess.run(None, {sess.get_inputs()[0].name: np.random.rand(*shape).astype(np.float32)})
    print("onnxruntime run: ok;", [(o.name, r.shape) for o, r in zip(sess.get_outputs(), outs)])


def bench(args):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    t0 = time.perf_counter()
    sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    print(f"session creation: {(time.perf_counter() - t0) * 1e3:.0f} ms")
    x = np.random.default_rng(0).random((1, 3, args.size, args.size), dtype=np.float32)
    name = sess.get_inputs()[0].name
    times = []
    for _ in range(args.runs + 1):
        t0 = time.perf_counter()
        sess.run(None, {name: x})
        times.append(time.perf_counter() - t0)
    t = np.array(times[1:]) * 1e3
    print(f"python onnxruntime {ort.__version__}: median {np.median(t):.0f} ms, min {t.min():.0f} ms over {args.runs} runs")


def reference(args):
    from ultralytics.nn.autobackend import AutoBackend

    torch.set_num_threads(args.threads)
    backend = AutoBackend(args.ckpt, device=torch.device("cpu"), fp16=False, fuse=True, verbose=False)
    x = torch.rand(1, 3, args.size, args.size)
    times = []
    with torch.no_grad():
        for _ in range(args.runs + 1):
            t0 = time.perf_counter()
            backend(x)
            times.append(time.perf_counter() - t0)
    t = np.array(times[1:]) * 1e3
    print(f"reference torch forward: median {np.median(t):.0f} ms, min {t.min():.0f} ms over {args.runs} runs")


def versions():
    import onnx
    import onnxruntime
    import ultralytics

    return {"ultralytics": ultralytics.__version__, "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("golden").set_defaults(fn=golden)
    f = sub.add_parser("full")
    f.add_argument("scale", choices=sorted(SCALES))
    f.set_defaults(fn=full)
    c = sub.add_parser("check")
    c.add_argument("model")
    c.set_defaults(fn=check)
    for name, fn, arg in (("bench", bench, "model"), ("reference", reference, "ckpt")):
        b = sub.add_parser(name)
        b.add_argument(arg)
        b.add_argument("--size", type=int, default=1024)
        b.add_argument("--threads", type=int, default=2)
        b.add_argument("--runs", type=int, default=5)
        b.set_defaults(fn=fn)
    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
