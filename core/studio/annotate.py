"""What the Annotate page does with a canvas drawing: diff it against the store and save.

The canvas starts with the plane's stored ROIs (one editable object each, in
store order) and the annotator adds shapes after them.  :func:`apply_drawing`
saves new shapes as new ROIs and edited ones as new versions of their ROI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from core.errors import ConfigError
from core.roi import CanvasTransform, canvas_drawing, canvas_objects, mask_to_canvas_objects, objects_to_masks

__all__ = ["initial_drawing", "apply_drawing", "SaveSummary", "TOOLS", "ROI_STYLE"]

#: Tool name on the page -> streamlit-drawable-canvas drawing mode.
TOOLS = {"Polygon": "polygon", "Rectangle": "rect", "Freehand": "freedraw", "Circle": "circle"}
ROI_STYLE = {"fill": "rgba(255, 165, 0, 0.25)", "stroke": "#ff8c00", "strokeWidth": 2}


@dataclass
class SaveSummary:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    empty: int = 0
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = []
        if self.created:
            parts.append(f"{len(self.created)} new ROI(s)")
        if self.updated:
            parts.append(f"{len(self.updated)} edited ROI(s)")
        text = ("Saved " + " and ".join(parts) + ".") if parts else "Nothing new to save."
        if self.empty:
            text += f" {self.empty} shape(s) covered no pixel centre and were skipped."
        return text


def initial_drawing(rois: Sequence[Any], transform: CanvasTransform) -> tuple[dict, list[int]]:
    """Canvas JSON of the stored ROIs' outlines, plus the ROI id owning each object.

    A mask in several pieces gives several objects (all owned by its ROI); an
    ROI too thin to outline is listed on the page but not drawn.
    """
    objects, owners = [], []
    for roi in rois:
        for obj in mask_to_canvas_objects(roi.mask, transform, style=ROI_STYLE):
            objects.append(obj)
            owners.append(int(roi.id))
    return canvas_drawing(objects), owners


def _union(masks: dict[int, np.ndarray], indices: list[int], shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    for i in indices:
        if i in masks:
            out |= masks[i]
    return out


def apply_drawing(store, image_id: int, rois: Sequence[Any], initial: Mapping[str, Any], owners: Sequence[int],
                  json_data: Mapping[str, Any] | None, shape: tuple[int, int], transform: CanvasTransform, *,
                  label: str, annotator: str) -> SaveSummary:
    """Save what changed on the canvas since it was initialised with ``initial``/``owners``.

    Objects past the initial ones are new ROIs labelled ``label``; an ROI
    whose objects rasterise differently from how they started was edited and
    gets a new version with the new mask.  ``shape`` is the plane's (H, W).
    """
    if not annotator.strip():
        raise ConfigError("enter your annotator name in the sidebar before saving")
    objects = canvas_objects(json_data)
    start = canvas_objects(initial)
    summary = SaveSummary()
    if len(objects) < len(start):
        summary.warnings.append("Shapes removed on the canvas are not deleted from the store; "
                                "use the Delete buttons in the ROI list.")
        return summary  # the pairing of objects to ROIs is lost; save nothing rather than guess
    before = dict(objects_to_masks(start, shape, transform))
    after = dict(objects_to_masks(objects[:len(start)], shape, transform))
    by_id = {int(r.id): r for r in rois}
    for roi_id in dict.fromkeys(owners):
        mine = [i for i, owner in enumerate(owners) if owner == roi_id]
        new_mask = _union(after, mine, shape)
        if np.array_equal(new_mask, _union(before, mine, shape)):
            continue
        if not new_mask.any():
            summary.warnings.append(f"ROI {roi_id} was shrunk to nothing; use Delete instead.")
            continue
        roi = by_id[roi_id]
        store.update_roi(roi_id, expected_version=roi.version, annotator=annotator, mask=new_mask,
                         geometry=[objects[i] for i in mine])
        summary.updated.append(roi_id)
    fresh = objects[len(start):]
    if fresh and not label.strip():
        raise ConfigError("give the new ROI a label before saving")
    for offset, mask in objects_to_masks(fresh, shape, transform):
        if not mask.any():
            summary.empty += 1
            continue
        record = store.add_roi(image_id, label.strip(), mask, annotator=annotator, geometry=fresh[offset])
        summary.created.append(int(record.id))
    return summary
