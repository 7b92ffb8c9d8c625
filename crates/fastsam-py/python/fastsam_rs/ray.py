"""``python -m fastsam_rs.ray INPUT... --model MODEL --out DIR``: a dataset segmented on a Ray cluster.

The same images and the same files as ``fastsam segment INPUT... --out DIR`` (one ``DIR/<stem>.json`` per
image, folders searched recursively and mirrored under DIR; the engine's own ``fastsam::output::layout``
decides), spread over a pool of Ray actors that each hold one model: Ray Data reads the files, each actor
decodes, segments and writes them. Images already done are skipped unless ``--overwrite``; an image that
fails does not stop the others and is reported at the end, with exit status 1.

Without ``--address`` a local cluster is started (``--num-cpus`` limits it); ``--address auto`` joins the
cluster started on this node by ``ray start``. INPUT and DIR must be on storage every node sees.
Needs Ray: ``pip install "fastsam-rs[ray]"``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import _native
from ._model import FastSAM, Results


class Segmenter:
    """One Ray actor: a model, and where each image's JSON goes (``{source: (json, file_name)}``)."""

    def __init__(self, model: FastSAM, outputs: dict[str, tuple[str, str]]) -> None:
        self.model = model  # unpickled: reloaded from its path/name and options on this worker
        self.outputs = outputs
        self.smooth = bool(model.options["smooth"])

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
        paths, errors = [], []
        for data, path in zip(batch["bytes"], batch["path"]):
            source = _source_of(str(path), self.outputs)
            paths.append(source)
            try:
                json_path, file_name = self.outputs[source]
                errors.append(self.segment(bytes(data), source, Path(json_path)))
            except Exception as e:  # reported at the end; the other images go on
                errors.append(f"{type(e).__name__}: {e}")
        return {"path": paths, "error": errors}

    def segment(self, data: bytes, source: str, json_path: Path) -> str:
        image = _native.Image.decode(data, source)
        results = Results(self.model._model.segment(image, self.smooth))
        json_path.parent.mkdir(parents=True, exist_ok=True)
        results.save_json(json_path)
        return ""


def _source_of(path: str, outputs: dict[str, Any]) -> str:
    """The planned source a path from Ray Data stands for (Ray may drop a scheme or make it absolute)."""
    if path in outputs:
        return path
    absolute = os.path.abspath(path.removeprefix("local://"))
    return absolute if absolute in outputs else path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m fastsam_rs.ray",
        description="Segment images on a Ray cluster: one DIR/<stem>.json per image, as `fastsam segment --out DIR`.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders (searched recursively)")
    p.add_argument("--model", default="fastsam-s", help="checkpoint path (.pt/.onnx) or name (fastsam-s, fastsam-x)")
    p.add_argument("--out", required=True, metavar="DIR", help="where the JSON files go")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="actors, each holding one model (default 1)")
    p.add_argument("--threads", type=int, default=1, metavar="T",
                   help="CPUs each actor reserves and ONNX Runtime threads it runs (default 1)")
    p.add_argument("--address", help="a running cluster (`auto`: the one `ray start` made on this node)")
    p.add_argument("--num-cpus", type=int, help="CPUs of the local cluster started without --address (default: all)")
    p.add_argument("--overwrite", action="store_true", help="redo images whose JSON exists")
    p.add_argument("--imgsz", type=int, default=1024)
    p.add_argument("--conf", type=float, default=0.4)
    p.add_argument("--iou", type=float, default=0.9)
    p.add_argument("--max-det", type=int, default=300)
    args = p.parse_args(argv)
    if args.workers < 1 or args.threads < 1:
        p.error("--workers and --threads need at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    inputs = [os.path.abspath(i) for i in args.inputs]
    todo, skipped, refused = _native.plan_batch(inputs, os.path.abspath(args.out), args.overwrite)
    failures: list[tuple[str, str]] = [(str(p), reason) for p, reason in refused]
    outputs = {str(source): (str(json_path), name) for source, json_path, name in todo}
    # Loaded here first so that a bad model or option fails at once, not on every worker.
    model = FastSAM(args.model, imgsz=args.imgsz, conf=args.conf, iou=args.iou, max_det=args.max_det,
                    threads=args.threads, clip=None)
    done = 0
    start = time.perf_counter()
    if outputs:
        rows = run_on_ray(args, model, outputs)
        for row in rows:
            if row["error"]:
                failures.append((row["path"], row["error"]))
            else:
                done += 1
    elapsed = time.perf_counter() - start
    rate = f" ({done / elapsed:.2f} images/s)" if done else ""
    print(f"{done} image(s) segmented{rate}, {skipped} skipped, {len(failures)} failed; outputs in {args.out}",
          file=sys.stderr)
    for path, reason in failures:
        print(f"  failed: {path}: {reason}", file=sys.stderr)
    return 1 if failures else 0


def run_on_ray(args: argparse.Namespace, model: FastSAM, outputs: dict[str, tuple[str, str]]):
    """Reads the planned images with Ray Data and segments them on an actor pool; yields one row per image."""
    try:
        import ray
    except ImportError:
        sys.exit('error: Ray is not installed: pip install "fastsam-rs[ray]"')
    if args.address:
        ray.init(address=args.address)
    else:
        ray.init(num_cpus=args.num_cpus, include_dashboard=False)
    try:
        # Reading takes no CPU of its own: the actors hold every CPU of a cluster sized for them, and a read
        # task waiting for a CPU would wait forever.
        dataset = ray.data.read_binary_files(list(outputs), include_paths=True, num_cpus=0)
        segmented = dataset.map_batches(
            Segmenter,
            fn_constructor_kwargs={"model": model, "outputs": outputs},
            compute=ray.data.ActorPoolStrategy(size=args.workers),
            num_cpus=args.threads,
            batch_size=1,
            batch_format="numpy",
        )
        yield from segmented.iter_rows()
    finally:
        ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
