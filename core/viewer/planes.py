"""A stack of 2-D planes (volume slices along one axis, or frames) encoded for the browser.

The server sends modality values once, as raw little-endian arrays in chunks
of ``chunk`` consecutive planes; the browser windows them itself, so
window/level never costs a server round trip.  Integer-valued data (CT in HU,
16-bit radiographs) travels as int16/uint16, anything else as float32; RGB
as 8-bit triplets.  A plane larger than ``max_pixels`` is sent subsampled by
an integer factor for *display only* (``factor`` > 1, with ``notice``): ROIs
keep the full-resolution plane's pixel coordinates.

Each chunk is wrapped in a gzip container *without* compression (stored
blocks) and served as ``application/gzip``: Streamlit's HTTP layer would
otherwise gzip-9 the raw bytes on every request (about 1.5 s for a 2k x 2k
radiograph on a loaded 2-core machine, for a 13 % saving on noisy 16-bit
data), while the browser unwraps stored gzip natively for almost nothing.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.io import WINDOW_PRESETS, AXES

__all__ = ["EncodedPlanes", "encode_planes", "decode_chunk", "window_presets", "MAX_DISPLAY_PIXELS", "PRESET_KEYS"]

#: Planes above this many pixels are subsampled for display (ROIs stay full resolution).
MAX_DISPLAY_PIXELS = 64 * 1024 * 1024
#: Number keys of the window presets, as in OHIF (``auto`` spans the image's own values).
PRESET_KEYS = ("brain", "subdural", "stroke", "lung", "mediastinum", "soft_tissue", "bone", "auto", "liver")


@dataclass
class EncodedPlanes:
    """``meta``: JSON-ready description (see :func:`encode_planes`); ``chunks``: gzip-wrapped raw values per chunk."""

    meta: dict[str, Any]
    chunks: list[bytes] = field(repr=False)


def _planes(image, axis: str | None) -> tuple[int, callable]:
    if image.is_volume:
        if axis not in AXES:
            raise ConfigError(f"axis must be one of {', '.join(AXES)} for a volume, got {axis!r}")
        return image.n_slices(axis), (lambda i: image.slice(i, axis))
    if axis is not None:
        raise ConfigError("this image has no 3-D geometry; open its frames (axis None)")
    return image.n_frames, image.frame


def _dtype(values: np.ndarray, rgb: bool) -> str:
    if rgb:
        return "rgb8"
    finite = values[np.isfinite(values)]
    if finite.size and np.array_equal(finite, np.round(finite)):
        lo, hi = float(finite.min()), float(finite.max())
        if lo >= -32768 and hi <= 32767:
            return "int16"
        if lo >= 0 and hi <= 65535:
            return "uint16"
    return "float32"


def _aspect(image, axis: str | None) -> float:
    """Display pixel height / width, from the plane's (row, col) spacing."""
    try:
        row, col = image.slice_spacing(axis) if axis else tuple(image.spacing[:2])
        ratio = float(row) / float(col)
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return 1.0
    return ratio if math.isfinite(ratio) and 0.05 <= ratio <= 20 else 1.0


def decode_chunk(meta: dict[str, Any], data: bytes) -> np.ndarray:
    """One chunk back to its planes: (k, h, w) or (k, h, w, 3) for RGB (what the browser reads)."""
    dtype = {"int16": "<i2", "uint16": "<u2", "float32": "<f4", "rgb8": "u1"}[meta["dtype"]]
    values = np.frombuffer(gzip.decompress(data), dtype)
    h, w = meta["display_shape"]
    return values.reshape(-1, h, w, 3) if meta["dtype"] == "rgb8" else values.reshape(-1, h, w)


def window_presets(image) -> list[dict[str, Any]]:
    """The number-key presets: ``[{"key": "1", "name": "brain", "center": 40, "width": 80}, ...]``."""
    out = []
    for number, name in enumerate(PRESET_KEYS, start=1):
        w = image.auto_window if name == "auto" else WINDOW_PRESETS[name]
        out.append({"key": str(number), "name": name, "center": float(w.center), "width": float(w.width)})
    return out


def encode_planes(image, axis: str | None = None, *, chunk: int = 8,
                  max_pixels: int = MAX_DISPLAY_PIXELS) -> EncodedPlanes:
    """Encode every plane of ``image`` along ``axis`` (None: its frames) for the viewer.

    ``meta`` keys: ``n`` planes, ``axis``, ``shape`` [H, W] of the full plane
    (ROI coordinates), ``display_shape`` and ``factor`` of what is sent,
    ``dtype`` (int16/uint16/float32/rgb8, little-endian, gzip-wrapped), ``chunk`` planes per chunk,
    ``n_chunks``, ``range`` [min, max], ``window`` (the file's default),
    ``presets``, ``monochrome1``, ``units``, ``aspect`` and ``notice``.
    """
    if chunk < 1:
        raise ConfigError(f"chunk must be >= 1 plane, got {chunk}")
    n, plane = _planes(image, axis)
    first = np.asarray(plane(0))
    height, width = int(first.shape[0]), int(first.shape[1])
    factor = max(1, math.ceil(math.sqrt(height * width / max_pixels))) if height * width > max_pixels else 1
    values = np.asarray(image.pixels)
    rgb = bool(image.is_rgb)
    dtype = _dtype(values, rgb)
    finite = values[np.isfinite(values)] if values.size else values
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    chunks = []
    for start in range(0, n, chunk):
        block = np.stack([np.asarray(plane(i))[::factor, ::factor] for i in range(start, min(n, start + chunk))])
        if dtype == "rgb8":
            block = np.clip(np.round(np.nan_to_num(block)), 0, 255).astype(np.uint8)
        elif dtype == "float32":
            block = np.nan_to_num(block, nan=lo, posinf=hi, neginf=lo).astype("<f4")
        else:
            block = block.astype("<i2" if dtype == "int16" else "<u2")
        chunks.append(gzip.compress(np.ascontiguousarray(block).tobytes(), compresslevel=0, mtime=0))
    display_shape = [len(range(0, height, factor)), len(range(0, width, factor))]
    notice = None
    if factor > 1:
        notice = (f"This {width}x{height} plane ({height * width / 1e6:.0f} MP) is shown at 1/{factor} resolution "
                  f"to fit the browser; ROIs are still stored at full resolution.")
    window = image.default_window
    meta = {
        "n": int(n), "axis": axis, "shape": [height, width], "display_shape": display_shape, "factor": factor,
        "dtype": dtype, "encoding": "gzip", "chunk": int(chunk), "n_chunks": len(chunks), "range": [lo, hi],
        "window": {"center": float(window.center), "width": float(window.width)},
        "presets": [] if rgb else window_presets(image),
        "monochrome1": image.photometric == "MONOCHROME1", "rgb": rgb,
        "units": "HU" if (image.modality or "").upper() == "CT" else "",
        "aspect": _aspect(image, axis), "notice": notice,
    }
    return EncodedPlanes(meta, chunks)
