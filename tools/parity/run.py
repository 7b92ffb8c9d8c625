#!/usr/bin/env python3
"""Full-size parity: fastsam vs the reference (Ultralytics FastSAM) on the same random checkpoints and images.

    tools/fixtures/setup.sh                      # once: the pinned reference venv (.cache/venv-ref)
    .cache/venv-ref/bin/python tools/parity/run.py [--models s x] [--onnx] [--images IMG...]

For each FastSAM shape: generate the full-size random checkpoint (cached in .cache/fixtures), run the reference
on every image (cached in .cache/reference/<stem>/), run `fastsam segment` on the same images, and compare mask
by mask (tools/parity/compare.py). With --onnx the checkpoint is also exported by Ultralytics to a fixed 1024×1024
.onnx and both sides run that file. Prints a markdown table per model with the parity figures and the time per
image of both sides; exits non-zero if any image misses the thresholds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import compare  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("FASTSAM_SHARED", ROOT.parent / "shared"))


def sh(cmd, **kw):
    print("+", " ".join(map(str, cmd)), file=sys.stderr, flush=True)
    return subprocess.run(list(map(str, cmd)), check=True, **kw)


def export_onnx(ckpt: Path) -> Path:
    out = ckpt.with_suffix(".onnx")
    if not out.exists():
        sys.path.insert(0, str(ROOT / "tools/fixtures"))
        from export_onnx import export  # the same export as the committed tiny .onnx fixture

        export(ckpt)
    return out


def reference(model: Path, images: list[Path]) -> tuple[Path, float | None]:
    """The reference's outputs (cached) and its median in-process time per image, when it was recorded."""
    out = ROOT / ".cache/reference" / model.name.replace(".", "-")
    stems = [out / f"{p.stem}.everything.json" for p in images]
    if not all(s.exists() for s in stems):
        sh([sys.executable, ROOT / "tools/fixtures/reference.py", model, "--out", out.parent / "_tmp", "--no-prompts"])
        produced = out.parent / "_tmp" / model.stem
        out.mkdir(parents=True, exist_ok=True)
        for f in produced.iterdir():
            f.rename(out / f.name)
    timing = out / "timing.json"
    if not timing.exists():
        return out, None
    stats = json.loads(timing.read_text())
    secs = sorted(stats[p.name]["seconds"] for p in images if p.name in stats)
    return out, secs[len(secs) // 2] if secs else None


def ours(model: Path, images: list[Path], out: Path, env: dict) -> tuple[Path, float]:
    """fastsam's outputs and its median time per image: a whole process each (model load included)."""
    out.mkdir(parents=True, exist_ok=True)
    secs = []
    for img in images:
        t = time.perf_counter()
        sh([ROOT / "target/release/fastsam", "segment", img, "--model", model, "--json", out / f"{img.stem}.json"], env=env)
        secs.append(time.perf_counter() - t)
    return out, sorted(secs)[len(secs) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["s", "x"], choices=["s", "x"])
    ap.add_argument("--onnx", action="store_true", help="also compare the Ultralytics-exported .onnx")
    ap.add_argument("--images", nargs="*", type=Path)
    args = ap.parse_args()
    images = args.images or sorted((SHARED / "data/images").iterdir())
    env = dict(os.environ, ORT_DYLIB_PATH=subprocess.check_output([ROOT / "tools/setup-ort.sh"], text=True).strip())
    sh(["cargo", "build", "--release", "--quiet", "-p", "fastsam-cli"])
    sh([sys.executable, ROOT / "tools/fixtures/make_fastsam.py", "full"])
    ok = True
    for size in args.models:
        ckpt = ROOT / f".cache/fixtures/fastsam-{size}.pt"
        models = [ckpt] + ([export_onnx(ckpt)] if args.onnx else [])
        for model in models:
            ref_dir, ref_s = reference(model, images)
            ours_dir, ours_s = ours(model, images, ROOT / ".cache/parity" / model.name, env)
            rows = [compare.compare(compare.load(ref_dir / f"{p.stem}.everything.json"),
                                    compare.load(ours_dir / f"{p.stem}.json")) for p in images]
            ok &= all(compare.passes(r) for r in rows)
            ref_txt = "not recorded (cached outputs)" if ref_s is None else f"{ref_s:.2f} s/image (model loaded)"
            print(f"\n### {model.name}\n\nmedian time per image: fastsam {ours_s:.2f} s/image (a process each, model "
                  f"load included); reference {ref_txt}\n")
            print(compare.table(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
