"""Every kind of source gives the same masks for the same pixels: a file, a BGR uint8 array (OpenCV's
order), a PIL image (RGB; other modes converted), and lists of them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from conftest import image_paths


def objects(results):
    """What must agree between sources: everything in the JSON but the file name."""
    doc = json.loads(results.to_json())
    return doc["image"]["width"], doc["image"]["height"], doc["annotations"]


@pytest.fixture(scope="module")
def pngs(tmp_path_factory):
    """Lossless copies of three shared images (one of them grayscale), so that pixels are known exactly."""
    folder = tmp_path_factory.mktemp("png")
    paths = []
    for source in image_paths()[:3]:
        target = folder / f"{source.stem}.png"
        Image.open(source).save(target)
        paths.append(target)
    assert any(Image.open(p).mode == "L" for p in paths)
    return paths


def test_path_bgr_array_and_pil_agree(model, pngs):
    for path in pngs:
        from_path = model(path)[0]
        rgb = np.asarray(Image.open(path).convert("RGB"))
        from_bgr = model(np.ascontiguousarray(rgb[:, :, ::-1]))[0]
        from_bgr_view = model(rgb[:, :, ::-1])[0]  # a strided view, not a copy
        from_pil = model(Image.open(path))[0]  # grayscale PNGs open as mode "L": converted
        assert len(from_path) > 0
        assert from_path.path == path.name and from_bgr.path == ""
        for other in (from_bgr, from_bgr_view, from_pil):
            assert objects(other) == objects(from_path), path.name
            assert (other.masks.data == from_path.masks.data).all()


def test_pil_modes_are_converted(model, pngs):
    rgba = Image.open(pngs[0]).convert("RGBA")
    assert objects(model(rgba)[0]) == objects(model(pngs[0])[0])


def test_list_and_str_sources(model, pngs):
    results = model([str(pngs[0]), pngs[1], Image.open(pngs[2])])
    assert [r.path for r in results] == [pngs[0].name, pngs[1].name, ""]
    assert objects(results[1]) == objects(model(pngs[1])[0])
    assert model([]) == []
