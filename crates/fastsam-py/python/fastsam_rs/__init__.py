"""fastsam_rs: Fast Segment Anything (FastSAM) without PyTorch, on the fastsam Rust engine.

    from fastsam_rs import FastSAM
    model = FastSAM("FastSAM-s.pt")
    r = model("bus.jpg")[0]
    r.boxes.xyxy, r.boxes.conf, r.masks.data, r.masks.rle
    r.select(points=[[400, 500]]).to_json()
"""

from ._errors import FastSAMError, FastSAMFileNotFoundError, FastSAMValueError
from ._model import Boxes, FastSAM, Masks, Results
from ._native import __version__
from ._runtime import onnxruntime_library, register_onnxruntime_package

register_onnxruntime_package()

__all__ = [
    "FastSAM",
    "Results",
    "Boxes",
    "Masks",
    "FastSAMError",
    "FastSAMFileNotFoundError",
    "FastSAMValueError",
    "onnxruntime_library",
    "__version__",
]
