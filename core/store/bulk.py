"""Imports that land all at once: many planes and ROIs in one transaction (all or nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from core.store.database import Database
from core.store.masks import encode_mask, mask_digest
from core.store.readers import validate_reader_name
from core.store.rois import _text

__all__ = ["BulkMixin", "PlaneRois", "BulkSummary"]


@dataclass
class PlaneRois:
    """One plane (the keyword arguments of :meth:`add_image`) and the ROIs to put on it.

    ``rois`` are ``(label, mask (H, W) bool, reader, uid)``.
    """

    plane: dict[str, Any]
    rois: list[tuple[str, np.ndarray, str, str]] = field(default_factory=list)


@dataclass
class BulkSummary:
    images_added: int = 0
    images_existing: int = 0
    rois_added: int = 0
    rois_existing: int = 0
    image_ids: list[int] = field(default_factory=list)


class BulkMixin:
    """``add_planes_and_rois``: an import that is stored completely or not at all."""

    def add_planes_and_rois(self: Database, items: Sequence[PlaneRois]) -> BulkSummary:
        """Register the planes and add their ROIs in one write transaction.

        An ROI whose uid exists, or that repeats a live ROI of the same image,
        label, reader and mask, is counted as existing and not added again, so
        importing the same file twice changes nothing.  Any invalid item
        (shape, reader name, ...) rolls the whole import back.
        """
        summary = BulkSummary()
        with self._write() as conn:
            for item in items:
                plane = item.plane
                existed = conn.execute(
                    "SELECT id FROM images WHERE sha256 = ? AND slice_index = ? AND axis = ?",
                    (str(plane["sha256"]).lower(), -1 if plane.get("slice_index") is None else plane["slice_index"],
                     plane.get("axis") or "")).fetchone()
                image_id = self._insert_image(conn, **plane)
                summary.image_ids.append(image_id)
                summary.images_existing += existed is not None
                summary.images_added += existed is None
                for label, mask, reader, uid in item.rois:
                    label, reader = _text(label, "ROI label"), validate_reader_name(reader)
                    sha = mask_digest(encode_mask(mask))
                    duplicate = conn.execute(
                        "SELECT 1 FROM rois WHERE uid = ? OR (image_id = ? AND label = ? AND annotator = ? AND"
                        " mask_sha256 = ? AND deleted = 0)", (uid, image_id, label, reader, sha)).fetchone()
                    if duplicate:
                        summary.rois_existing += 1
                        continue
                    self._insert_roi(conn, image_id, label, mask, annotator=reader, uid=uid)
                    summary.rois_added += 1
        return summary
