"""Pure logic of the image viewer and ROI editor (the Streamlit component lives in ``equiguard.viewer``).

- :func:`encode_planes` (``EncodedPlanes``): a volume axis or a frame stack as raw modality values in
  chunks for the browser's own window/level; planes over ``MAX_DISPLAY_PIXELS`` are subsampled for display.
- :func:`encode_rle` / :func:`decode_rle`: the masks' wire format.
- viewer geometry (``polygon``/``freehand``/``rect``/``ellipse``/``mask`` in image pixels):
  :func:`validate_geometry`, :func:`geometry_to_mask`, :func:`geometry_area`.
- display conventions: :func:`display_flip`, :func:`orientation_labels`, :func:`describe_convention`.
- ROIs for the viewer: :func:`roi_payload`, :func:`record_payload`, :func:`label_colour`;
  old-canvas ROIs: :func:`legacy_to_viewer`.
- saving: :func:`parse_save` -> :class:`SaveRequest`; :func:`apply_save` -> :class:`SaveReport`.
"""

from core.viewer.display import CONVENTIONS, DEFAULT_CONVENTION, describe_convention, display_flip, orientation_labels
from core.viewer.geometry import (GEOMETRY_FORMAT, SHAPE_TYPES, geometry_area, geometry_to_mask, is_viewer_geometry,
                                  validate_geometry)
from core.viewer.legacy import LEGACY_CANVAS_SIDE, is_legacy_geometry, legacy_canvas_transform, legacy_to_viewer
from core.viewer.planes import (MAX_DISPLAY_PIXELS, PRESET_KEYS, EncodedPlanes, decode_chunk, encode_planes,
                                window_presets)
from core.viewer.rle import decode_rle, encode_rle, rle_area
from core.viewer.rois import PALETTE, label_colour, record_payload, roi_payload
from core.viewer.save import EditResult, RoiEdit, SaveReport, SaveRequest, apply_save, parse_save

__all__ = [
    "CONVENTIONS", "DEFAULT_CONVENTION", "describe_convention", "display_flip", "orientation_labels",
    "GEOMETRY_FORMAT", "SHAPE_TYPES", "geometry_area", "geometry_to_mask", "is_viewer_geometry", "validate_geometry",
    "LEGACY_CANVAS_SIDE", "is_legacy_geometry", "legacy_canvas_transform", "legacy_to_viewer",
    "MAX_DISPLAY_PIXELS", "PRESET_KEYS", "EncodedPlanes", "decode_chunk", "encode_planes", "window_presets",
    "decode_rle", "encode_rle", "rle_area",
    "PALETTE", "label_colour", "record_payload", "roi_payload",
    "EditResult", "RoiEdit", "SaveReport", "SaveRequest", "apply_save", "parse_save",
]
