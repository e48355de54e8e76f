"""Masks -> simplified outlines -> Fabric polygons the canvas can edit again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import cv2
import numpy as np

from core.errors import ConfigError
from core.roi.transform import CanvasTransform

__all__ = ["MaskOutline", "FABRIC_VERSION", "DEFAULT_STYLE", "mask_to_outline",
           "outline_to_canvas_objects", "mask_to_canvas_objects", "canvas_drawing"]

FABRIC_VERSION = "7.4.0"
DEFAULT_STYLE: dict[str, Any] = {
    "fill": "rgba(255, 165, 0, 0.3)",
    "stroke": "#ff8c00",
    "strokeWidth": 2,
    "strokeUniform": True,
}

# Contours are traced on the mask upsampled by this factor: OpenCV follows the
# centres of boundary pixels, which sits half a pixel inside the true pixel
# edge; upsampling shrinks that bias to 0.5 / _UPSAMPLE of an image pixel.
_UPSAMPLE = 4


@dataclass
class MaskOutline:
    """One connected region: exterior ring (N, 2) and hole rings, in image coordinates (x, y)."""

    exterior: np.ndarray
    holes: list[np.ndarray] = field(default_factory=list)


def mask_to_outline(mask: np.ndarray, tolerance: float = 0.5, min_area: float = 0.5) -> list[MaskOutline]:
    """Outlines of a bool mask (H, W), simplified (Douglas-Peucker) to ``tolerance`` image pixels.

    Rings are in continuous image coordinates (pixel (i, j) covers [j, j+1) x [i, i+1)),
    so :func:`core.roi.rasterize_rings` of an outline gives the mask back up to
    the simplification.  Regions (and holes) smaller than ``min_area`` pixels are dropped.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ConfigError(f"mask must be 2-D (H, W), got shape {m.shape}")
    if tolerance < 0:
        raise ConfigError(f"outline tolerance must be >= 0, got {tolerance}")
    m = m.astype(bool)
    if not m.any():
        return []
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = np.pad(m[r0:r1, c0:c1], 1).astype(np.uint8)
    big = np.kron(crop, np.ones((_UPSAMPLE, _UPSAMPLE), dtype=np.uint8))
    contours, hierarchy = cv2.findContours(big, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if hierarchy is None:
        return []
    hierarchy = hierarchy[0]

    def to_image(contour: np.ndarray) -> np.ndarray:
        pts = contour.reshape(-1, 2).astype(np.float32)
        if tolerance > 0 and len(pts) > 3:
            pts = cv2.approxPolyDP(pts.reshape(-1, 1, 2), tolerance * _UPSAMPLE, True).reshape(-1, 2)
        # upsampled pixel u has centre (u + 0.5) / UPSAMPLE in padded-crop pixels
        return (pts.astype(np.float64) + 0.5) / _UPSAMPLE + (c0 - 1, r0 - 1)

    def area(ring: np.ndarray) -> float:
        return abs(float(cv2.contourArea(ring.astype(np.float32))))

    outlines: list[MaskOutline] = []
    for idx, (_next, _prev, child, parent) in enumerate(hierarchy):
        if parent != -1:
            continue
        exterior = to_image(contours[idx])
        if len(exterior) < 3 or area(exterior) < min_area:
            continue
        holes = []
        while child != -1:
            hole = to_image(contours[child])
            if len(hole) >= 3 and area(hole) >= min_area:
                holes.append(hole)
            child = hierarchy[child][0]
        outlines.append(MaskOutline(exterior, holes))
    return outlines


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 3) for v in values]


def _polygon_object(ring: np.ndarray, style: Mapping[str, Any]) -> dict:
    lo, hi = ring.min(axis=0), ring.max(axis=0)
    centre = (lo + hi) / 2
    obj = {
        "type": "Polygon", "version": FABRIC_VERSION,
        "originX": "center", "originY": "center",
        "left": round(float(centre[0]), 3), "top": round(float(centre[1]), 3),
        "width": round(float(hi[0] - lo[0]), 3), "height": round(float(hi[1] - lo[1]), 3),
        "scaleX": 1, "scaleY": 1, "angle": 0, "flipX": False, "flipY": False, "skewX": 0, "skewY": 0,
        "points": [{"x": x, "y": y} for x, y in zip(_rounded(ring[:, 0]), _rounded(ring[:, 1]))],
    }
    obj.update(style)
    return obj


def _path_object(rings: list[np.ndarray], style: Mapping[str, Any]) -> dict:
    allpts = np.vstack(rings)
    lo, hi = allpts.min(axis=0), allpts.max(axis=0)
    centre = (lo + hi) / 2
    path: list[list[Any]] = []
    for ring in rings:
        xs, ys = _rounded(ring[:, 0]), _rounded(ring[:, 1])
        path.append(["M", xs[0], ys[0]])
        path.extend(["L", x, y] for x, y in zip(xs[1:], ys[1:]))
        path.append(["Z"])
    obj = {
        "type": "Path", "version": FABRIC_VERSION,
        "originX": "center", "originY": "center",
        "left": round(float(centre[0]), 3), "top": round(float(centre[1]), 3),
        "width": round(float(hi[0] - lo[0]), 3), "height": round(float(hi[1] - lo[1]), 3),
        "scaleX": 1, "scaleY": 1, "angle": 0, "flipX": False, "flipY": False, "skewX": 0, "skewY": 0,
        "fillRule": "evenodd", "path": path,
    }
    obj.update(style)
    return obj


def outline_to_canvas_objects(outlines: list[MaskOutline], canvas_from_image: CanvasTransform | None = None,
                              style: Mapping[str, Any] | None = None) -> list[dict]:
    """Outlines in image coordinates -> Fabric objects in canvas coordinates.

    A region without holes becomes a ``Polygon`` (vertex-editable on the
    canvas); one with holes a ``Path`` with ``fillRule: "evenodd"``.
    ``style`` overrides :data:`DEFAULT_STYLE` (fill, stroke, ...).
    """
    transform = canvas_from_image or CanvasTransform()
    look = {**DEFAULT_STYLE, **(style or {})}
    objects = []
    for outline in outlines:
        exterior = transform.to_canvas(outline.exterior)
        if outline.holes:
            objects.append(_path_object([exterior] + [transform.to_canvas(h) for h in outline.holes], look))
        else:
            objects.append(_polygon_object(exterior, look))
    return objects


def mask_to_canvas_objects(mask: np.ndarray, transform: CanvasTransform | None = None, *,
                           tolerance: float = 0.5, style: Mapping[str, Any] | None = None) -> list[dict]:
    """Bool mask (H, W) -> Fabric objects for ``st_canvas(initial_drawing=canvas_drawing(...))``.

    ``transform`` is the same :class:`CanvasTransform` used to read shapes off
    the canvas; ``tolerance`` is in image pixels.
    """
    return outline_to_canvas_objects(mask_to_outline(mask, tolerance), transform, style)


def canvas_drawing(objects: list[Mapping[str, Any]]) -> dict:
    """Wrap objects as a Fabric canvas JSON (``{"version", "objects"}``) for ``initial_drawing``."""
    return {"version": FABRIC_VERSION, "objects": [dict(o) for o in objects]}
