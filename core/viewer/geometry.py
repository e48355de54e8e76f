"""The viewer's shape geometry, in image pixel coordinates, and its exact rasterisation.

Coordinates are continuous image coordinates ``(x, y)`` = (column, row):
pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``, whatever the zoom, pan or
display flip the ROI was drawn under.  One ROI is one of::

    {"format": "viewer/1", "type": "polygon",  "points": [[x, y], ...]}   # also "freehand"
    {"format": "viewer/1", "type": "rect",     "x": .., "y": .., "width": .., "height": ..}
    {"format": "viewer/1", "type": "ellipse",  "cx": .., "cy": .., "rx": .., "ry": ..}
    {"format": "viewer/1", "type": "mask"}     # painted: the mask itself is the geometry

A pixel belongs to a shape when its centre does (the rule of
:func:`core.roi.rasterize_rings`; the browser's rasteriser follows it too),
so a mask's pixel count converges to the shape's area.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from core.errors import ConfigError
from core.roi import rasterize_rings

__all__ = ["GEOMETRY_FORMAT", "SHAPE_TYPES", "is_viewer_geometry", "validate_geometry", "geometry_to_mask",
           "geometry_area"]

GEOMETRY_FORMAT = "viewer/1"
SHAPE_TYPES = ("polygon", "freehand", "rect", "ellipse", "mask")
#: Upper bound on polygon vertices accepted from the browser.
MAX_POINTS = 100_000


def is_viewer_geometry(geometry: Any) -> bool:
    """True for geometry written by this viewer (``format == "viewer/1"``)."""
    return isinstance(geometry, Mapping) and geometry.get("format") == GEOMETRY_FORMAT


def _number(g: Mapping[str, Any], name: str, positive: bool = False) -> float:
    value = g.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{g.get('type')} {name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{g.get('type')} {name} must be positive, got {value}")
    return float(value)


def validate_geometry(geometry: Any) -> dict[str, Any]:
    """A clean copy of viewer geometry (types checked, numbers finite), or :class:`ConfigError`."""
    if not isinstance(geometry, Mapping):
        raise ConfigError("ROI geometry must be an object")
    kind = geometry.get("type")
    if kind not in SHAPE_TYPES:
        raise ConfigError(f"unknown ROI shape {kind!r}; expected one of {', '.join(SHAPE_TYPES)}")
    out: dict[str, Any] = {"format": GEOMETRY_FORMAT, "type": kind}
    if kind in ("polygon", "freehand"):
        points = geometry.get("points")
        if not isinstance(points, (list, tuple)) or not 3 <= len(points) <= MAX_POINTS:
            raise ConfigError(f"a {kind} needs 3 to {MAX_POINTS} points")
        try:
            pts = np.asarray(points, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"{kind} points must be [x, y] number pairs") from None
        if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
            raise ConfigError(f"{kind} points must be finite [x, y] number pairs")
        out["points"] = [[round(float(x), 3), round(float(y), 3)] for x, y in pts]
    elif kind == "rect":
        for name in ("x", "y"):
            out[name] = _number(geometry, name)
        for name in ("width", "height"):
            out[name] = _number(geometry, name, positive=True)
    elif kind == "ellipse":
        for name in ("cx", "cy"):
            out[name] = _number(geometry, name)
        for name in ("rx", "ry"):
            out[name] = _number(geometry, name, positive=True)
    return out


def geometry_to_mask(geometry: Mapping[str, Any], shape: tuple[int, int]) -> np.ndarray:
    """Bool mask (H, W) of the pixels whose centres lie inside a shape (not for ``"mask"``)."""
    g = validate_geometry(geometry)
    height, width = int(shape[0]), int(shape[1])
    kind = g["type"]
    if kind in ("polygon", "freehand"):
        return rasterize_rings([np.asarray(g["points"], dtype=np.float64)], (height, width))
    if kind == "rect":
        x0, y0 = g["x"], g["y"]
        ring = np.array([[x0, y0], [x0 + g["width"], y0], [x0 + g["width"], y0 + g["height"]],
                         [x0, y0 + g["height"]]])
        return rasterize_rings([ring], (height, width))
    if kind == "ellipse":
        yy = (np.arange(height, dtype=np.float64) + 0.5 - g["cy"]) / g["ry"]
        xx = (np.arange(width, dtype=np.float64) + 0.5 - g["cx"]) / g["rx"]
        return (yy[:, None] ** 2 + xx[None, :] ** 2) < 1.0
    raise ConfigError("a painted ROI has no shape to rasterise; its mask is the geometry")


def geometry_area(geometry: Mapping[str, Any]) -> float:
    """Exact area of a shape in square image pixels."""
    g = validate_geometry(geometry)
    if g["type"] == "rect":
        return g["width"] * g["height"]
    if g["type"] == "ellipse":
        return math.pi * g["rx"] * g["ry"]
    if g["type"] == "mask":
        raise ConfigError("a painted ROI has no shape area")
    pts = np.asarray(g["points"])
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))
