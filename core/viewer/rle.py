"""Compact run-length encoding of binary masks, the form masks travel in between browser and server.

``{"size": [H, W], "counts": [n0, n1, n2, ...]}``: the mask read in row-major
(C) order as alternating runs, starting with a run of *background* pixels (0
when the first pixel is inside).  The counts add up to ``H * W``.  The
browser's encoder (``frontend/src/masks.js``) writes exactly this.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from core.errors import ConfigError

__all__ = ["encode_rle", "decode_rle", "rle_area"]


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """Bool-like mask (H, W) -> ``{"size": [H, W], "counts": [...]}`` (runs alternate 0/1, starting with 0)."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ConfigError(f"a mask must be 2-D (H, W), got shape {m.shape}")
    flat = m.astype(bool).ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": [int(c) for c in counts]}


def _size(rle: Mapping[str, Any]) -> tuple[int, int]:
    size = rle.get("size")
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise ConfigError(f"mask size must be two positive integers [H, W], got {size!r}")
    return int(size[0]), int(size[1])


def decode_rle(rle: Mapping[str, Any], shape: tuple[int, int] | None = None) -> np.ndarray:
    """``{"size", "counts"}`` -> bool mask (H, W); ``shape`` (if given) must match ``size``.

    Raises :class:`ConfigError` for anything malformed (negative runs, counts
    that do not add up to H * W, a size that disagrees with ``shape``).
    """
    if not isinstance(rle, Mapping):
        raise ConfigError("a mask must be an object with 'size' and 'counts'")
    height, width = _size(rle)
    if shape is not None and (height, width) != tuple(int(v) for v in shape):
        raise ConfigError(f"mask is {height}x{width} but the image plane is {shape[0]}x{shape[1]}")
    counts = rle.get("counts")
    if not isinstance(counts, (list, tuple)):
        raise ConfigError("mask counts must be a list of run lengths")
    runs = np.asarray(counts, dtype=np.int64) if counts else np.zeros(0, np.int64)
    if runs.ndim != 1 or (runs < 0).any():
        raise ConfigError("mask run lengths must be non-negative integers")
    if int(runs.sum()) != height * width:
        raise ConfigError(f"mask runs cover {int(runs.sum())} pixels, expected {height * width}")
    values = np.arange(len(runs)) % 2 == 1
    return np.repeat(values, runs).reshape(height, width)


def rle_area(rle: Mapping[str, Any]) -> int:
    """Number of inside pixels (the sum of the odd runs)."""
    return int(sum(rle.get("counts", [])[1::2]))
