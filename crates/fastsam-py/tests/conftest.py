"""Shared fixtures: the committed tiny checkpoints, the shared test images, and the CLI (`fastsam`) whose
outputs the package must reproduce byte for byte.

Environment: FASTSAM_BIN (default: <repo>/target/debug/fastsam), FASTSAM_SHARED (default: <repo>/../shared),
ORT_DYLIB_PATH for the CLI (tools/test-python.sh sets them).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("FASTSAM_SHARED", REPO.parent / "shared"))
IMAGES = SHARED / "data" / "images"
COCO_VAL = SHARED / "data" / "coco" / "val2017"
MODEL = REPO / "tests" / "fixtures" / "fastsam" / "fastsam-s-tiny.pt"
CLIP = REPO / "tests" / "fixtures" / "clip" / "clip-tiny.pt"
CLI = Path(os.environ.get("FASTSAM_BIN", REPO / "target" / "debug" / "fastsam"))


def image_paths() -> list[Path]:
    paths = sorted(p for p in IMAGES.iterdir() if p.is_file())
    assert len(paths) == 9, f"expected the 9 shared test images in {IMAGES}"
    return paths


def run_cli(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    """Runs the CLI; fails the test with its stderr if it fails."""
    done = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, f"fastsam {' '.join(map(str, args))} failed:\n{done.stderr}"
    return done


@pytest.fixture(scope="session")
def model():
    from fastsam_rs import FastSAM

    return FastSAM(MODEL, clip=CLIP)


@pytest.fixture(scope="session")
def everything(model):
    """Every image's "segment everything" results, by file name."""
    return {p.name: model(p)[0] for p in image_paths()}
