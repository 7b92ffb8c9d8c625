"""What ``FastSAM.__call__`` accepts, turned into decoded images (the engine's ``Image``).

Files are decoded by the engine exactly as ``fastsam segment`` decodes them; arrays are BGR ``uint8``
``H×W×3`` (OpenCV's order, as in Ultralytics); PIL images are RGB (other modes are converted first).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Sequence, Union

import numpy as np

from . import _native
from ._errors import FastSAMValueError

if TYPE_CHECKING:
    from PIL import Image as PILImage

    Source = Union[str, os.PathLike[str], np.ndarray, PILImage.Image]
else:
    Source = Any

SourceOrList = Union[Source, Sequence[Source]]


def is_pil_image(value: object) -> bool:
    """Whether ``value`` is a ``PIL.Image.Image``, without importing Pillow when it is not in use."""
    return any(c.__module__.startswith("PIL.") and c.__name__ == "Image" for c in type(value).__mro__)


def as_list(source: SourceOrList) -> list[Source]:
    """One source or a list/tuple of them, as a list."""
    if isinstance(source, (list, tuple)):
        return list(source)
    return [source]


def load(source: Source) -> _native.Image:
    """Decodes one source."""
    if isinstance(source, (str, os.PathLike)):
        return _native.Image.open(os.fspath(source))
    if isinstance(source, np.ndarray):
        return from_array(source, bgr=True)
    if is_pil_image(source):
        image = source if source.mode == "RGB" else source.convert("RGB")
        return from_array(np.asarray(image), bgr=False)
    raise FastSAMValueError(
        f"invalid source: {type(source).__name__} (expected a path, a BGR uint8 array (H, W, 3), a PIL image,"
        " or a list of these)"
    )


def from_array(array: np.ndarray, *, bgr: bool) -> _native.Image:
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise FastSAMValueError(
            f"invalid image array: dtype {array.dtype}, shape {array.shape} (expected uint8 (height, width, 3))"
        )
    return _native.Image.from_array(array, bgr)
