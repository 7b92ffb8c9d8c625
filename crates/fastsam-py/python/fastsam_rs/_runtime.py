"""Finding ONNX Runtime: the shared library of the ``onnxruntime`` package this package depends on.

Only its location is looked up (``onnxruntime`` itself is not imported); ``$ORT_DYLIB_PATH`` still comes first.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from . import _native


def register_onnxruntime_package() -> Path | None:
    """Registers the installed ``onnxruntime`` package's ``capi/`` folder with the engine; returns it."""
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return None
    capi = Path(next(iter(spec.submodule_search_locations))) / "capi"
    if capi.is_dir():
        _native.register_onnxruntime_dir(str(capi))
        return capi
    return None


def onnxruntime_library() -> Path:
    """Loads ONNX Runtime now (normally done by the first model) and returns the library file in use."""
    return Path(_native.onnxruntime_library())
