"""A tiny FastSAM-s-shaped checkpoint that finds objects, for the CLI tests (tests/fixtures/cli/fastsam-s-busy.pt).

Pinned: torch 2.15.0, ultralytics 8.4.190 (the reference venv). Same construction as tools/golden/graph.py's
seg_s (width 1/64) but with every class bias at +6, so every anchor scores ~0.998 and the random mask
coefficients give non-empty masks: the CLI's outputs (polygons, cut-outs, COCO) then have something to show.
Run: /work/main/.cache/venv-ref/bin/python tools/golden/cli_fixture.py
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from graph import ROOT, make_seg_model, save_checkpoint  # noqa: E402


def main():
    model = make_seg_model("s", width=1 / 64, seed=3)
    for seq in model.model[-1].cv3:
        seq[-1].bias.data.fill_(6.0)
    dst = ROOT / "tests/fixtures/cli/fastsam-s-busy.pt"
    save_checkpoint(model, dst)
    print(dst, dst.stat().st_size)


if __name__ == "__main__":
    with torch.no_grad():
        main()
