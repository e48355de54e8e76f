"""What the Annotate page does around the viewer: a file's ROIs for the viewer, and saving its edits.

A plane stack is one file along one axis (a volume's slices, a multi-frame
file's frames, or a single 2-D image).  The store has one image row per
annotated plane; rows are registered on the first save that needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from core.studio.planes import Plane, find_plane, register_plane
from core.viewer import SaveReport, SaveRequest, apply_save, record_payload

__all__ = ["stack_planes", "stack_rois", "plane_ids", "save_edits"]


def stack_planes(store, sha256: str, image, axis: str | None) -> list:
    """The store's records of this file's planes along ``axis`` (frames/2-D when None), by plane index."""
    records = [r for r in store.list_images() if r.sha256 == sha256 and r.axis == axis]
    if axis is None and not image.is_volume:
        records = [r for r in records if (r.slice_index is None) == (image.n_frames == 1)]
    return sorted(records, key=lambda r: r.slice_index or 0)


def stack_rois(store, sha256: str, image, axis: str | None,
               rois_of: Callable[[int], list] | None = None) -> list[dict[str, Any]]:
    """The live ROIs on the stack's planes, as viewer payloads (``slice`` set when there are several planes).

    ``rois_of(image_id)`` chooses which ROIs a plane shows (default: all, ``store.list_rois``); a
    blinded reading passes the reader's visible ones.
    """
    several = image.is_volume or image.n_frames > 1
    rois_of = rois_of or store.list_rois
    return [record_payload(roi, rec.slice_index if several else None)
            for rec in stack_planes(store, sha256, image, axis) for roi in rois_of(rec.id)]


def plane_ids(store, path: Path, sha256: str, image, axis: str | None) -> Callable[[int | None], int]:
    """``image_id_for(slice)``: the store id of a plane of the stack, registered on first use."""
    def image_id_for(index: int | None) -> int:
        plane = Plane(index or 0, axis)
        record = find_plane(store, sha256, image, plane)
        return record.id if record else register_plane(store, Path(path), image, plane)
    return image_id_for


def save_edits(store, path: Path, sha256: str, image, axis: str | None, request: SaveRequest,
               annotator: str) -> SaveReport:
    """Apply a viewer save to the store (see :func:`core.viewer.apply_save`)."""
    return apply_save(store, request, image_id_for=plane_ids(store, path, sha256, image, axis), annotator=annotator)
