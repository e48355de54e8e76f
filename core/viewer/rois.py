"""ROIs as the viewer receives them: stored records, read-only overlays and proposals.

Every ROI travels as a JSON object::

    {"id": 12 | None, "version": 3 | None, "label": "lesion", "slice": 40 | None, "colour": "#e6194b",
     "kind": "shape" | "mask", "geometry": {...viewer geometry...} | None, "rle": {...} | None,
     "annotator": "dr a", "name": "optional caption"}

A shape travels as its geometry (the browser rasterises the same way as
:func:`core.viewer.geometry_to_mask`); a painted ROI, or a stored ROI of the
old canvas that is not a single clean polygon, as its mask's RLE.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

import numpy as np

from core.viewer.geometry import is_viewer_geometry, validate_geometry
from core.viewer.legacy import legacy_to_viewer
from core.viewer.rle import encode_rle

__all__ = ["PALETTE", "label_colour", "roi_payload", "record_payload"]

#: Colour-blind-aware, high-contrast label colours (on grey images).
PALETTE = ("#ffa31a", "#1ad1ff", "#ff4fd8", "#7cff4f", "#ffe14f", "#b07cff", "#ff5c5c", "#4fffc1",
           "#ff9e80", "#80b3ff")


def label_colour(label: str) -> str:
    """A stable colour per label name (the same label always gets the same colour)."""
    digest = hashlib.sha1(label.strip().lower().encode("utf-8")).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def roi_payload(label: str, *, mask: np.ndarray | None = None, geometry: Mapping[str, Any] | None = None,
                slice_index: int | None = None, roi_id: int | None = None, version: int | None = None,
                colour: str | None = None, annotator: str | None = None, name: str | None = None) -> dict[str, Any]:
    """One ROI for the viewer: a shape (viewer ``geometry``) or a painted ``mask`` (H, W)."""
    shape = geometry is not None and geometry.get("type") != "mask"
    if not shape and mask is None:
        raise ValueError("an ROI needs a shape geometry or a mask")
    return {
        "id": None if roi_id is None else int(roi_id), "version": None if version is None else int(version),
        "label": label, "slice": None if slice_index is None else int(slice_index),
        "colour": colour or label_colour(label), "kind": "shape" if shape else "mask",
        "geometry": validate_geometry(geometry) if shape else None,
        "rle": None if shape else encode_rle(mask),
        "annotator": annotator, "name": name,
    }


def record_payload(record, slice_index: int | None = None, colour: str | None = None) -> dict[str, Any]:
    """A stored :class:`core.store.RoiRecord` for the viewer (old-canvas geometry migrated when exact)."""
    geometry = record.geometry
    if not is_viewer_geometry(geometry):
        geometry = legacy_to_viewer(geometry, record.mask)
    return roi_payload(record.label, mask=record.mask, geometry=geometry, slice_index=slice_index,
                       roi_id=record.id, version=record.version, colour=colour, annotator=record.annotator)
