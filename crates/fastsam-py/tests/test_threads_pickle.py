"""The GIL is released while the engine works; a model pickles (for Ray and multiprocessing)."""

from __future__ import annotations

import pickle
import threading
import time

import numpy as np

from fastsam_rs import FastSAM

from conftest import image_paths


def test_another_thread_runs_while_segmenting(model):
    """A pure-Python thread keeps stamping the clock while the main thread segments: with the GIL held for
    the whole call there would be one gap as long as the call."""
    image = image_paths()[4]  # a 2000x1500 image: a call long enough to see
    stamps: list[float] = []
    stop = threading.Event()

    def stamp() -> None:
        while not stop.is_set():
            stamps.append(time.perf_counter())

    worker = threading.Thread(target=stamp)
    worker.start()
    try:
        time.sleep(0.05)
        start = time.perf_counter()
        results = model(image, smooth=True)
        end = time.perf_counter()
    finally:
        stop.set()
        worker.join()
    assert len(results[0]) > 0
    inside = [start] + [t for t in stamps if start < t < end] + [end]
    longest_gap = max(b - a for a, b in zip(inside, inside[1:]))
    assert longest_gap < 0.5 * (end - start), f"longest pause of the other thread {longest_gap:.3f} s of {end - start:.3f} s"


def test_two_threads_on_one_model_agree(model):
    images = image_paths()[:4]
    expected = [model(p)[0].select(points=[[200, 150]]).to_json() for p in images]
    got: dict[int, str] = {}

    def run(i: int) -> None:
        got[i] = model(images[i])[0].select(points=[[200, 150]]).to_json()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [got.get(i) for i in range(len(images))] == expected


def test_pickle_reloads_with_the_same_options(model):
    restored = pickle.loads(pickle.dumps(model))
    assert isinstance(restored, FastSAM) and restored.options == model.options
    image = np.ascontiguousarray(np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8))
    assert restored(image)[0].to_json() == model(image)[0].to_json()
    other = FastSAM(model.model_path, conf=0.6, max_det=5, smooth=True, clip=None)
    again = pickle.loads(pickle.dumps(other))
    assert again.options == other.options and again.options["max_det"] == 5
    path = image_paths()[0]
    assert again(path)[0].to_json() == other(path)[0].to_json()
    assert len(again(path)[0]) <= 5
