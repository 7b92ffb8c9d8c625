"""``FastSAM`` and its ``Results``: Ultralytics' habits over the Rust engine.

Everything here only reshapes arguments and results; segmenting, selecting, encoding and drawing are the
engine's (``fastsam_rs._native``), which releases the GIL while it works.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

import numpy as np

from . import _native, _sources
from ._errors import FastSAMFileNotFoundError, FastSAMValueError

PointMode = Literal["reference", "merge", "per_point"]

# Suffixes that mark a model argument as a file name rather than a model name.
_MODEL_SUFFIXES = (".pt", ".pth", ".onnx", ".safetensors")


class FastSAM:
    """A FastSAM model: ``FastSAM("FastSAM-s.pt")``, ``FastSAM("fastsam-x")``.

    ``model`` is a checkpoint (``.pt`` as distributed, or an Ultralytics-exported ``.onnx``) or a known name
    (``fastsam-s``, ``fastsam-x``: downloaded into ``$FASTSAM_HOME`` on first use, as the CLI does).
    ``clip`` is the CLIP model text prompts use (``"vit-b-32"`` or a path), loaded on the first text prompt.
    ``threads``: ONNX Runtime's threads (default: all cores). ``smooth``: smooth every mask (the FastSAM
    authors' ``better_quality``). ``conv``: ``"winograd"`` (default) or ``"direct"``, as ``fastsam --conv``.

    A model pickles as its ``model`` argument and options, and reloads from them.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "fastsam-s",
        *,
        imgsz: int = 1024,
        conf: float = 0.4,
        iou: float = 0.9,
        max_det: int = 300,
        threads: int | None = None,
        clip: str | os.PathLike[str] | None = "vit-b-32",
        smooth: bool = False,
        conv: Literal["winograd", "direct"] = "winograd",
    ) -> None:
        spec = os.fspath(model)
        clip_spec = None if clip is None else os.fspath(clip)
        self._options: dict[str, Any] = dict(
            imgsz=imgsz, conf=conf, iou=iou, max_det=max_det, threads=threads, clip=clip_spec, smooth=smooth, conv=conv
        )
        self._spec = spec
        if not Path(spec).exists() and (spec.lower().endswith(_MODEL_SUFFIXES) or os.sep in spec):
            raise FastSAMFileNotFoundError(f"{spec}: no such model file")
        self._model = _native.Model(
            spec, imgsz=imgsz, conf=conf, iou=iou, max_det=max_det, threads=threads, conv=conv, clip=clip_spec
        )

    @property
    def model_path(self) -> Path:
        """The checkpoint in use (a name resolves to its file in the weights cache)."""
        return Path(self._model.path)

    @property
    def options(self) -> dict[str, Any]:
        """The keyword arguments the model was made with."""
        return dict(self._options)

    def __call__(self, source: _sources.SourceOrList, *, smooth: bool | None = None) -> list[Results]:
        """Segments everything in each image: one :class:`Results` per image, in order."""
        return self.predict(source, smooth=smooth)

    def predict(self, source: _sources.SourceOrList, *, smooth: bool | None = None) -> list[Results]:
        """Same as calling the model."""
        smooth = self._options["smooth"] if smooth is None else smooth
        return [Results(self._model.segment(_sources.load(s), bool(smooth))) for s in _sources.as_list(source)]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self._spec, self._options))

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self._options.items())
        return f"FastSAM({self._spec!r}, {options})"


def _restore(spec: str, options: dict[str, Any]) -> FastSAM:
    return FastSAM(spec, **options)


class _PerObject:
    """Arrays with one entry per object of a Results."""

    def __init__(self, native: _native.Results) -> None:
        self._native = native

    def __len__(self) -> int:
        return len(self._native)


class Boxes(_PerObject):
    """The objects' boxes: FastSAM's adjusted boxes, in pixels of the original image."""

    @cached_property
    def xyxy(self) -> np.ndarray:
        """``(N, 4)`` float32: ``x1, y1, x2, y2``."""
        return self._native.xyxy()

    @cached_property
    def conf(self) -> np.ndarray:
        """``(N,)`` float32 scores."""
        return self._native.conf()

    @cached_property
    def xywh(self) -> np.ndarray:
        """``(N, 4)`` float32: centre ``x, y``, width, height (Ultralytics' ``xywh``)."""
        b = self.xyxy
        return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1)

    @cached_property
    def cls(self) -> np.ndarray:
        """``(N,)`` float32 zeros: FastSAM has the one class ``object``."""
        return np.zeros(len(self), dtype=np.float32)


class Masks(_PerObject):
    """The objects' masks at the original resolution."""

    @cached_property
    def data(self) -> np.ndarray:
        """``(N, H, W)`` bool."""
        return self._native.masks_data()

    @cached_property
    def rle(self) -> list[dict[str, Any]]:
        """COCO compressed RLE per mask, ``{"size": [h, w], "counts": str}``: ``pycocotools.mask.decode``
        reads them (encode ``counts`` to bytes first, as for any COCO JSON)."""
        return self._native.rle()


class Results:
    """One image's objects: every object the model found, or those a prompt or an index picked."""

    def __init__(self, native: _native.Results) -> None:
        self._native = native

    @property
    def orig_shape(self) -> tuple[int, int]:
        """``(height, width)`` of the image."""
        return self._native.orig_shape

    @property
    def path(self) -> str:
        """The image's file name (empty for an array or PIL source)."""
        return self._native.file_name

    @cached_property
    def boxes(self) -> Boxes:
        return Boxes(self._native)

    @cached_property
    def masks(self) -> Masks:
        return Masks(self._native)

    def __len__(self) -> int:
        return len(self._native)

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> Results:
        """The objects at ``index`` (an int, a slice, a list of ints or a bool mask), as a Results."""
        n = len(self)
        if isinstance(index, slice):
            indices = list(range(n))[index]
        elif isinstance(index, (int, np.integer)):
            i = int(index)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of range for {n} object(s)")
            indices = [i % n]
        else:
            array = np.asarray(index)
            if array.dtype == bool:
                if array.shape != (n,):
                    raise IndexError(f"boolean index of shape {array.shape} for {n} object(s)")
                indices = np.flatnonzero(array).tolist()
            elif array.ndim == 1 and (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
                indices = [int(i) + n if i < 0 else int(i) for i in array]
                if any(i < 0 for i in indices):
                    raise IndexError(f"index {index!r} is out of range for {n} object(s)")
            else:
                raise IndexError(f"invalid index {index!r}: expected an int, a slice or a list of ints")
        return Results(self._native.subset(indices))

    def __iter__(self) -> Iterator[Results]:
        return (self[i] for i in range(len(self)))

    def select(
        self,
        points: Sequence[Sequence[float]] | Sequence[float] | np.ndarray | None = None,
        labels: Sequence[int] | int | np.ndarray | None = None,
        bboxes: Sequence[Sequence[float]] | Sequence[float] | np.ndarray | None = None,
        texts: Sequence[str] | str | None = None,
        *,
        point_mode: PointMode = "reference",
        text_threshold: float | None = None,
        text_top_k: int | None = None,
    ) -> Results:
        """The objects a prompt selects, as ``fastsam segment`` and Ultralytics' ``FastSAMPredictor.prompt``
        select them (the network is not run again). Kinds of prompt are united.

        ``points``: ``[x, y]`` or ``[[x, y], ...]`` with ``labels`` 1 (foreground, the default) or 0
        (background). ``bboxes``: ``[x1, y1, x2, y2]`` or a list of them. ``texts``: phrases, matched with the
        model's CLIP. ``point_mode``: ``"reference"`` (Ultralytics), ``"merge"`` (the FastSAM authors' one
        painted mask) or ``"per_point"`` (one object per click). ``text_threshold`` / ``text_top_k``: per
        phrase, every object at least that similar / at most that many, best first (default: the best one).
        """
        point_array = _coordinates(points, 2, "points")
        if labels is None:
            label_list = [1] * len(point_array)
        else:
            label_array = np.atleast_1d(np.asarray(labels))
            if label_array.ndim != 1 or not (label_array.size == 0 or np.issubdtype(label_array.dtype, np.integer)):
                raise FastSAMValueError(f"invalid labels: {labels!r} (expected integers 1 or 0, one per point)")
            label_list = [int(v) for v in label_array]
        text_list = [texts] if isinstance(texts, str) else list(texts or [])
        if not all(isinstance(t, str) for t in text_list):
            raise FastSAMValueError(f"invalid texts: {texts!r} (expected a string or a list of strings)")
        native = self._native.select(
            point_array.tolist(),
            label_list,
            _coordinates(bboxes, 4, "bboxes").tolist(),
            text_list,
            point_mode,
            None if text_threshold is None else float(text_threshold),
            None if text_top_k is None else int(text_top_k),
        )
        return Results(native)

    def to_json(self, *, polygons: bool = False) -> str:
        """The SA-1B-style JSON of ``fastsam segment --json`` (byte for byte for a file source; an array or PIL
        source has an empty ``file_name``). ``polygons`` adds COCO polygons, as ``--polygons``."""
        return self._native.to_json(polygons)

    def save_json(self, path: str | os.PathLike[str]) -> None:
        """Writes :meth:`to_json` to ``path`` (whole or not at all)."""
        self._native.save_json(os.fspath(path))

    def save_overlay(self, path: str | os.PathLike[str]) -> None:
        """The image with each mask coloured and outlined, as ``fastsam segment --overlay`` draws it (PNG)."""
        self._native.save_overlay(os.fspath(path))

    def save_cutout(self, path: str | os.PathLike[str]) -> bool:
        """The masks' pixels on a transparent background, cropped to their union (RGBA PNG), as
        ``--cutout``; returns False, writing nothing, when no pixel is selected."""
        return self._native.save_cutout(os.fspath(path))

    def __repr__(self) -> str:
        h, w = self.orig_shape
        name = f" {self.path!r}" if self.path else ""
        return f"<fastsam_rs.Results{name} {w}x{h}: {len(self)} object(s)>"


def _coordinates(value: Any, width: int, what: str) -> np.ndarray:
    """``None``, one ``[..width values]`` or a list of them, as a float64 ``(n, width)`` array."""
    if value is None:
        return np.zeros((0, width))
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise FastSAMValueError(f"invalid {what}: {value!r} ({e})") from None
    if array.ndim == 1 and array.size == width:
        array = array[None, :]
    if array.size == 0:
        return np.zeros((0, width))
    if array.ndim != 2 or array.shape[1] != width:
        raise FastSAMValueError(f"invalid {what}: shape {array.shape} (expected ({width},) or (n, {width}))")
    return array
