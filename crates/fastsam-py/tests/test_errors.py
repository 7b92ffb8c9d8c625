"""Bad input raises the documented exceptions, carrying the library's message, and never brings the
interpreter down."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastsam_rs
from fastsam_rs import FastSAM, FastSAMError

from conftest import CLIP, MODEL


def test_missing_image_is_file_not_found(model, tmp_path):
    missing = tmp_path / "nope.jpg"
    with pytest.raises(FileNotFoundError) as e:
        model(missing)
    assert isinstance(e.value, FastSAMError)
    assert str(missing) in str(e.value)


def test_non_image_is_a_fastsam_error(model, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not an image at all")
    with pytest.raises(FastSAMError, match="image"):
        model(text)
    truncated = tmp_path / "half.png"
    truncated.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(FastSAMError):
        model(truncated)


def test_nan_and_bad_prompts_are_value_errors(everything):
    r = everything["bus.jpg"]
    with pytest.raises(ValueError, match="finite"):
        r.select(points=[[math.nan, 10]])
    with pytest.raises(ValueError):
        r.select(bboxes=[[0, 0, math.inf, 10]])
    with pytest.raises(ValueError, match="label"):
        r.select(points=[[10, 10]], labels=[2])
    with pytest.raises(ValueError, match="label"):
        r.select(points=[[10, 10], [20, 20]], labels=[1])
    with pytest.raises(ValueError):
        r.select(points=[[1, 2, 3]])
    with pytest.raises(ValueError, match="point_mode"):
        r.select(points=[[10, 10]], point_mode="sideways")
    with pytest.raises(ValueError, match="threshold"):
        r.select(texts="a dog", text_threshold=3.0)
    with pytest.raises(ValueError, match="top-k"):
        r.select(texts="a dog", text_top_k=0)
    for e in (ValueError, FastSAMError):
        with pytest.raises(e):
            r.select(points=[["x", 1]])


def test_text_without_clip_is_a_value_error():
    model = FastSAM(MODEL, clip=None)
    r = model(np.zeros((64, 64, 3), np.uint8))[0]
    with pytest.raises(ValueError, match="CLIP"):
        r.select(texts=["a dog"])


def test_unknown_model_name_and_missing_model_file(tmp_path):
    with pytest.raises(ValueError, match="fastsam-q"):
        FastSAM("fastsam-q")
    with pytest.raises(FileNotFoundError):
        FastSAM(tmp_path / "missing.pt")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    with pytest.raises(FastSAMError):
        FastSAM(broken)


def test_bad_options_are_value_errors():
    for options in (dict(conf=2.0), dict(iou=-1.0), dict(imgsz=0), dict(max_det=-1), dict(threads=-2), dict(conv="fft")):
        with pytest.raises(ValueError):
            FastSAM(MODEL, **options)


def test_bad_arrays_are_value_errors(model):
    for array in (np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8),
                  np.zeros((0, 8, 3), np.uint8)):
        with pytest.raises(ValueError):
            model(array)
    with pytest.raises(ValueError, match="source"):
        model(12)


def test_exceptions_are_exported():
    assert issubclass(fastsam_rs.FastSAMFileNotFoundError, FileNotFoundError)
    assert issubclass(fastsam_rs.FastSAMValueError, ValueError)
    assert issubclass(fastsam_rs.FastSAMValueError, FastSAMError)
    assert fastsam_rs.onnxruntime_library().name.startswith("libonnxruntime")
    assert CLIP.exists()
