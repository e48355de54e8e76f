"""Canvas <-> image coordinates for an image shown on the drawing canvas.

Coordinates are continuous: pixel ``(row i, col j)`` covers ``[j, j+1) x [i, i+1)``
and its centre is ``(j + 0.5, i + 0.5)``; points are ``(x, y)`` = (column, row).
The canvas shows the image scaled by ``(scale_x, scale_y)`` with its top-left
corner at ``(offset_x, offset_y)``:

    canvas = offset + scale * image        image = (canvas - offset) / scale

This is the same convention as streamlit-drawable-canvas's ``background_fit``
(``CanvasResult.background_fit``), so that dict converts directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from core.errors import ConfigError

__all__ = ["CanvasTransform"]


@dataclass(frozen=True)
class CanvasTransform:
    """How an H x W image is placed on the canvas (see the module docstring).

    ``scale_x``/``scale_y`` are canvas pixels per image pixel (0.5 = image shown
    at half size); ``offset_x``/``offset_y`` are where the image's top-left
    corner lands on the canvas, in canvas pixels.
    """

    scale_x: float = 1.0
    scale_y: float = 1.0
    offset_x: float = 0.0
    offset_y: float = 0.0

    def __post_init__(self) -> None:
        for name in ("scale_x", "scale_y", "offset_x", "offset_y"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ConfigError(f"canvas transform {name} must be a finite number, got {value}")
            object.__setattr__(self, name, value)
        if self.scale_x <= 0 or self.scale_y <= 0:
            raise ConfigError(
                f"canvas transform scales must be positive, got ({self.scale_x}, {self.scale_y})")

    @classmethod
    def identity(cls) -> "CanvasTransform":
        return cls()

    @classmethod
    def fit(cls, image_shape: tuple[int, int], canvas_size: tuple[int, int],
            mode: str = "stretch") -> "CanvasTransform":
        """The placement streamlit-drawable-canvas uses for a background image.

        ``image_shape`` is ``(H, W)``; ``canvas_size`` is ``(width, height)`` as passed
        to ``st_canvas``; ``mode`` is its ``background_image_fit`` (``"stretch"``
        scales each axis to fill the canvas, ``"contain"`` keeps the aspect ratio
        and centres the image).
        """
        height, width = (int(v) for v in image_shape[:2])
        canvas_w, canvas_h = (float(v) for v in canvas_size)
        if height <= 0 or width <= 0 or canvas_w <= 0 or canvas_h <= 0:
            raise ConfigError(f"image shape {image_shape} and canvas size {canvas_size} must be positive")
        if mode == "stretch":
            return cls(canvas_w / width, canvas_h / height, 0.0, 0.0)
        if mode == "contain":
            scale = min(canvas_w / width, canvas_h / height)
            return cls(scale, scale, (canvas_w - width * scale) / 2, (canvas_h - height * scale) / 2)
        raise ConfigError(f"background fit mode must be 'stretch' or 'contain', got {mode!r}")

    @classmethod
    def from_background_fit(cls, fit: Mapping[str, float]) -> "CanvasTransform":
        """From ``CanvasResult.background_fit`` (keys ``scale_x``, ``scale_y``, ``offset_x``, ``offset_y``)."""
        missing = [k for k in ("scale_x", "scale_y", "offset_x", "offset_y") if k not in fit]
        if missing:
            raise ConfigError(f"background fit is missing {', '.join(missing)}")
        return cls(fit["scale_x"], fit["scale_y"], fit["offset_x"], fit["offset_y"])

    @property
    def image_from_canvas(self) -> np.ndarray:
        """(3, 3) affine matrix taking homogeneous canvas points to image points."""
        return np.array([[1 / self.scale_x, 0, -self.offset_x / self.scale_x],
                         [0, 1 / self.scale_y, -self.offset_y / self.scale_y],
                         [0, 0, 1]], dtype=np.float64)

    @property
    def canvas_from_image(self) -> np.ndarray:
        """(3, 3) affine matrix taking homogeneous image points to canvas points."""
        return np.array([[self.scale_x, 0, self.offset_x],
                         [0, self.scale_y, self.offset_y],
                         [0, 0, 1]], dtype=np.float64)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Canvas points (N, 2) as ``(x, y)`` -> image points (N, 2)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return (pts - (self.offset_x, self.offset_y)) / (self.scale_x, self.scale_y)

    def to_canvas(self, points: np.ndarray) -> np.ndarray:
        """Image points (N, 2) as ``(x, y)`` -> canvas points (N, 2)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return pts * (self.scale_x, self.scale_y) + (self.offset_x, self.offset_y)
