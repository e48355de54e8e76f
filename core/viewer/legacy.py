"""Stored ROIs of the old drawing canvas (Fabric.js objects in canvas pixels) -> viewer geometry.

The Annotate page used to draw on a streamlit-drawable-canvas that showed
the plane whole, stretched to at most 640 px a side
(:func:`legacy_canvas_transform`), and it stored each ROI's Fabric object(s) in *canvas*
pixels next to the mask.  The mask stays the truth; this module turns a
single filled Fabric object back into an editable polygon in image pixels
when, and only when, that polygon rasterises to exactly the stored mask.
Anything else (several pieces, holes, lines, a mask edited since) is shown
as a painted mask, which is exact by construction.  Nothing is rewritten in
the store until the ROI is edited.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import ConfigError
from core.roi import CanvasTransform, canvas_objects, object_rings, object_type
from core.roi.fabric import FILLED_TYPES
from core.viewer.geometry import GEOMETRY_FORMAT, geometry_to_mask, is_viewer_geometry

__all__ = ["legacy_to_viewer", "is_legacy_geometry", "legacy_canvas_transform", "LEGACY_CANVAS_SIDE"]

#: The old canvas's longest side in canvas pixels.
LEGACY_CANVAS_SIDE = 640


def legacy_canvas_transform(shape: tuple[int, int]) -> CanvasTransform:
    """Where the old canvas put an (H, W) plane: whole, aspect kept, longest side 640 px, rounded sizes."""
    height, width = int(shape[0]), int(shape[1])
    scale = LEGACY_CANVAS_SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return CanvasTransform.fit((height, width), size, "stretch")


def is_legacy_geometry(geometry: Any) -> bool:
    """True for the old canvas's Fabric object(s) (anything stored that is not viewer geometry)."""
    return geometry is not None and not is_viewer_geometry(geometry)


def legacy_to_viewer(geometry: Any, mask: np.ndarray) -> dict[str, Any] | None:
    """An editable viewer polygon equal to the stored ``mask`` (H, W), or None to show the mask itself."""
    if not is_legacy_geometry(geometry):
        return None
    try:
        single = isinstance(geometry, dict) and "objects" not in geometry
        objects = canvas_objects([geometry] if single else geometry)
        if len(objects) != 1 or object_type(objects[0]) not in FILLED_TYPES:
            return None
        outline = object_rings(objects[0])
    except ConfigError:
        return None
    if len(outline.rings) != 1 or outline.fill_rule != "nonzero":
        return None
    shape = tuple(int(v) for v in np.shape(mask))
    transform = legacy_canvas_transform(shape)
    ring = transform.to_image(outline.rings[0])
    candidate = {"format": GEOMETRY_FORMAT, "type": "polygon",
                 "points": [[float(x), float(y)] for x, y in ring]}
    try:
        same = np.array_equal(geometry_to_mask(candidate, shape), np.asarray(mask, bool))
    except ConfigError:
        return None
    return candidate if same else None
