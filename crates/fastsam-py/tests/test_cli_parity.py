"""The package's JSON is the CLI's, byte for byte, on the 9 shared images: for "segment everything" and for
point, box and text prompts (kinds of prompt as the CLI's flags give them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CLIP, MODEL, image_paths, run_cli

# (name, CLI flags, select() keyword arguments). Coordinates fit inside the smallest image (640x512).
PROMPTS = [
    ("everything", [], None),
    ("point", ["--point", "200,150"], dict(points=[[200, 150]])),
    ("points-fg-bg", ["--point", "200,150", "--point", "420,300,0"], dict(points=[[200, 150], [420, 300]], labels=[1, 0])),
    ("point-merge", ["--point", "200,150", "--merge"], dict(points=[[200, 150]], point_mode="merge")),
    ("box", ["--box", "40,60,380,420"], dict(bboxes=[40, 60, 380, 420])),
    ("boxes", ["--box", "40,60,380,420", "--box", "300,100,600,500"], dict(bboxes=[[40, 60, 380, 420], [300, 100, 600, 500]])),
    ("text", ["--text", "a dog", "--clip", str(CLIP)], dict(texts=["a dog"])),
    ("all-kinds", ["--point", "200,150", "--box", "300,100,600,500", "--text", "a bus", "--clip", str(CLIP)],
     dict(points=[[200, 150]], bboxes=[[300, 100, 600, 500]], texts="a bus")),
]


@pytest.fixture(scope="module")
def cli_outputs(tmp_path_factory) -> dict[str, Path]:
    """`fastsam segment IMAGES --out DIR FLAGS` for each prompt: its DIR."""
    dirs = {}
    for name, flags, _ in PROMPTS:
        out = tmp_path_factory.mktemp(f"cli-{name}")
        run_cli("segment", *image_paths(), "--out", out, "--model", MODEL, *flags)
        dirs[name] = out
    return dirs


@pytest.mark.parametrize("name,flags,select", PROMPTS, ids=[p[0] for p in PROMPTS])
def test_json_matches_cli(everything, cli_outputs, name, flags, select):
    for path in image_paths():
        results = everything[path.name]
        if select is not None:
            results = results.select(**select)
        expected = (cli_outputs[name] / f"{path.stem}.json").read_text()
        assert results.to_json() == expected, f"{name} on {path.name}"


def test_prompts_select_something(everything):
    """The parity above is not vacuous: the prompts pick objects on these images."""
    for name, _, select in PROMPTS[1:]:
        total = sum(len(r.select(**select)) for r in everything.values())
        assert total > 0, name


def test_single_image_json_file_and_polygons(everything, tmp_path):
    """`--json FILE` (one image) and `--polygons` give the same bytes as to_json() / to_json(polygons=True)."""
    path = image_paths()[0]
    out = tmp_path / "one.json"
    run_cli("segment", path, "--model", MODEL, "--json", out, "--polygons")
    assert everything[path.name].to_json(polygons=True) == out.read_text()
    saved = tmp_path / "saved.json"
    everything[path.name].save_json(saved)
    run_cli("segment", path, "--model", MODEL, "--json", out)
    assert saved.read_bytes() == out.read_bytes()


def test_overlay_and_cutout_match_cli(everything, tmp_path):
    path = image_paths()[0]
    run_cli("segment", path, "--model", MODEL, "--json", tmp_path / "j.json", "--point", "200,150",
            "--overlay", tmp_path / "cli-o.png", "--cutout", tmp_path / "cli-c.png")
    selected = everything[path.name].select(points=[[200, 150]])
    selected.save_overlay(tmp_path / "o.png")
    assert (tmp_path / "o.png").read_bytes() == (tmp_path / "cli-o.png").read_bytes()
    wrote = selected.save_cutout(tmp_path / "c.png")
    assert wrote == (tmp_path / "cli-c.png").exists()
    if wrote:
        assert (tmp_path / "c.png").read_bytes() == (tmp_path / "cli-c.png").read_bytes()


def test_arrays_agree_with_json(everything):
    """boxes, scores, masks and RLE are the JSON's objects, in its order."""
    for path in image_paths():
        r = everything[path.name]
        doc = json.loads(r.to_json())
        n = len(doc["annotations"])
        h, w = doc["image"]["height"], doc["image"]["width"]
        assert len(r) == n and r.orig_shape == (h, w)
        assert r.boxes.xyxy.shape == (n, 4) and r.boxes.xyxy.dtype == "float32"
        assert r.boxes.conf.shape == (n,) and r.boxes.conf.dtype == "float32"
        assert r.masks.data.shape == (n, h, w) and r.masks.data.dtype == bool
        for i, a in enumerate(doc["annotations"]):
            x1, y1, x2, y2 = (float(v) for v in r.boxes.xyxy[i])
            assert a["bbox"] == pytest.approx([x1, y1, x2 - x1, y2 - y1], abs=1e-3)
            assert a["score"] == pytest.approx(float(r.boxes.conf[i]), abs=1e-6)
            assert a["area"] == int(r.masks.data[i].sum())
            assert r.masks.rle[i] == a["segmentation"]


def test_rle_decodes_with_pycocotools(everything):
    from pycocotools import mask as coco_mask

    for path in image_paths()[:3]:
        r = everything[path.name]
        for i, rle in enumerate(r.masks.rle[:20]):
            decoded = coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()})
            assert (decoded.astype(bool) == r.masks.data[i]).all(), f"{path.name} mask {i}"


def test_indexing(everything):
    r = everything["bus.jpg"]
    assert len(r) > 3
    assert json.loads(r[1].to_json())["annotations"][0]["segmentation"] == r.masks.rle[1]
    assert (r[-1].boxes.xyxy == r.boxes.xyxy[-1:]).all()
    assert (r[1:3].masks.data == r.masks.data[1:3]).all()
    assert (r[[2, 0]].boxes.conf == r.boxes.conf[[2, 0]]).all()
    keep = r.boxes.conf > float(r.boxes.conf.mean())
    assert len(r[keep]) == int(keep.sum())
    with pytest.raises(IndexError):
        r[len(r)]
    # A prompt on a subset selects among the subset's objects only.
    point = [[200, 150]]
    hits = r.select(points=point)
    assert len(r[[]].select(points=point)) == 0
    if len(hits):
        assert len(hits[0].select(points=point)) == 1
