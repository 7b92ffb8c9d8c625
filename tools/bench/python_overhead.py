"""The Python package's overhead per image against the CLI, measured in one run (README "Python" figures).

For each image, interleaved so that both sides see the same machine load: `fastsam bench IMAGE --runs R`
(the CLI's file → masks time, model warm) and R timed `model(IMAGE)` calls of the installed package after one
warm-up (file → Results: the same decode and segment, plus the binding). Prints each image's medians and the
median ratio. Run it with the venv that has the package (a release build) installed:

    .cache/venv-py-bench/bin/python tools/bench/python_overhead.py --cli target/release/fastsam \
        --model .cache/fixtures/fastsam-s.pt ../shared/data/images/*
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

from fastsam_rs import FastSAM


def cli_median(cli: str, model: str, image: Path, runs: int, threads: int | None) -> float:
    extra = ["--threads", str(threads)] if threads else []
    out = subprocess.run([cli, "bench", str(image), "--model", model, "--runs", str(runs), "--prompts", "0", *extra],
                         check=True, capture_output=True, text=True).stdout
    return statistics.median(json.loads(out)["images"][0]["e2e_s"])


def python_median(model: FastSAM, image: Path, runs: int) -> float:
    model(image)  # warm-up, as the CLI's bench does
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        results = model(image)
        times.append(time.perf_counter() - t)
        # Freed outside the timed span, as `fastsam bench` frees each segmentation after its clock stops.
        del results
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument("--cli", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int)
    args = p.parse_args()
    model = FastSAM(args.model, threads=args.threads, clip=None)
    ratios = []
    print(f"{'image':40} {'CLI ms':>9} {'Python ms':>10} {'overhead':>9}")
    for image in args.images:
        cli = cli_median(args.cli, args.model, image, args.runs, args.threads)
        py = python_median(model, image, args.runs)
        ratios.append(py / cli)
        print(f"{image.name:40} {cli * 1e3:9.1f} {py * 1e3:10.1f} {100 * (py / cli - 1):+8.2f}%")
    print(f"median overhead over {len(ratios)} images: {100 * (statistics.median(ratios) - 1):+.2f}%")


if __name__ == "__main__":
    main()
