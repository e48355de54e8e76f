"""ROI geometry: Fabric.js canvas objects <-> binary masks in image pixel coordinates.

The old drawing canvas (streamlit-drawable-canvas, Fabric.js 7), whose ROIs the store still holds
(see ``core.viewer.legacy``), reported shapes in
canvas pixels; :class:`CanvasTransform` says where the image sits on the
canvas.  ``shapes_to_mask`` / ``objects_to_masks`` turn objects into bool masks
(H, W) with the full Fabric object transform applied; ``mask_to_canvas_objects``
goes back to editable ``Polygon`` objects.
"""

from core.roi.fabric import FILLED_TYPES, SKIPPED_TYPES, STROKED_TYPES, Outline, object_matrix, object_rings, object_type
from core.roi.masks import canvas_objects, object_to_mask, objects_to_masks, shapes_to_mask
from core.roi.outline import (DEFAULT_STYLE, FABRIC_VERSION, MaskOutline, canvas_drawing, mask_to_canvas_objects,
                              mask_to_outline, outline_to_canvas_objects)
from core.roi.raster import rasterize_rings, ring_area
from core.roi.transform import CanvasTransform

__all__ = [
    "CanvasTransform",
    "Outline", "MaskOutline",
    "FILLED_TYPES", "STROKED_TYPES", "SKIPPED_TYPES", "FABRIC_VERSION", "DEFAULT_STYLE",
    "object_type", "object_matrix", "object_rings",
    "canvas_objects", "object_to_mask", "objects_to_masks", "shapes_to_mask",
    "mask_to_outline", "outline_to_canvas_objects", "mask_to_canvas_objects", "canvas_drawing",
    "rasterize_rings", "ring_area",
]
