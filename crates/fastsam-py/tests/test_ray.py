"""`python -m fastsam_rs.ray` on a local cluster (2 CPUs) writes the files `fastsam segment --out` writes, skips
them on a second run, and reports a failing image at the end without stopping the others."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import COCO_VAL, MODEL, run_cli

pytest.importorskip("ray")

ENV = {
    **os.environ,
    "RAY_USAGE_STATS_ENABLED": "0",  # no report to the internet: tests stay on this machine
    "RAY_DATA_EXECUTION_NO_PROGRESS_TIMEOUT_S": "300",  # a stuck pipeline fails instead of hanging
}


def run_ray(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "fastsam_rs.ray", *map(str, args), "--model", str(MODEL), "--num-cpus", "2"]
    return subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=900)


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_ray_writes_the_cli_files_and_skips_them_next_time(tmp_path):
    cli_out, ray_out = tmp_path / "cli", tmp_path / "ray"
    run_cli("segment", COCO_VAL, "--out", cli_out, "--model", MODEL)
    expected = files(cli_out)
    assert len(expected) == len([p for p in COCO_VAL.iterdir() if p.is_file()]) >= 20

    first = run_ray(COCO_VAL, "--out", ray_out, "--workers", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"{len(expected)} image(s) segmented" in first.stderr
    assert files(ray_out) == expected

    stamps = {p: p.stat().st_mtime_ns for p in ray_out.iterdir()}
    second = run_ray(COCO_VAL, "--out", ray_out, "--workers", "1")
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"0 image(s) segmented, {len(expected)} skipped, 0 failed" in second.stderr
    assert {p: p.stat().st_mtime_ns for p in ray_out.iterdir()} == stamps


def test_a_failing_image_is_reported_and_the_others_done(tmp_path):
    good = sorted(COCO_VAL.iterdir())[:2]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 a JPEG header and then nothing")
    inputs = tmp_path / "in"
    inputs.mkdir()
    for p in good:
        shutil.copy(p, inputs / p.name)
    out = tmp_path / "out"
    done = run_ray(inputs, bad, "--out", out, "--workers", "1")
    assert done.returncode == 1, done.stderr[-3000:]
    assert "2 image(s) segmented" in done.stderr and "1 failed" in done.stderr
    assert f"failed: {bad}" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{p.stem}.json" for p in good)
