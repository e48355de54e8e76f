"""What the viewer sends on Save, checked, and applied to the annotation store.

The browser sends only what changed since the ROIs were loaded::

    {"save_id": "s3", "edits": [{"cid": "c7", "id": 12 | None, "version": 3 | None, "slice": 40 | None,
                                 "label": "lesion", "kind": "shape" | "mask", "geometry": {...} | None,
                                 "rle": {...} | None, "deleted": false, "proposal": "p1" | None}]}

:func:`parse_save` validates all of it (one :class:`ConfigError` for
anything malformed) and rasterises shapes in Python, so the store's masks
come from one rasteriser.  :func:`apply_save` writes each edit as its own
store transaction and reports per edit, so a failure never loses the other
edits and the browser keeps exactly the ones that failed.  An edit based on
an ROI version someone else has replaced meanwhile is saved as a *new* ROI
next to theirs ("forked"): both versions are kept, and the message says so.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from core.errors import ConfigError, EquiGuardError
from core.store import StaleVersionError
from core.viewer.geometry import GEOMETRY_FORMAT, geometry_to_mask, validate_geometry
from core.viewer.rle import decode_rle

__all__ = ["RoiEdit", "SaveRequest", "EditResult", "SaveReport", "parse_save", "apply_save", "MAX_EDITS"]

MAX_EDITS = 500


@dataclass
class RoiEdit:
    """One changed ROI: ``mask`` bool (H, W) in the plane's pixels (None for a deletion)."""

    cid: str
    roi_id: int | None
    base_version: int | None
    slice_index: int | None
    label: str
    geometry: dict[str, Any] | None
    mask: np.ndarray | None = field(repr=False)
    deleted: bool = False
    proposal: str | None = None


@dataclass
class SaveRequest:
    save_id: str
    edits: list[RoiEdit]


@dataclass
class EditResult:
    """``status``: saved | forked (stale edit kept as a new ROI) | deleted | kept (nothing written) | failed."""

    cid: str
    status: str
    roi_id: int | None = None
    message: str = ""


@dataclass
class SaveReport:
    save_id: str
    results: list[EditResult] = field(default_factory=list)
    error: str | None = None  # the whole save was refused before anything was written

    @property
    def ok(self) -> bool:
        return self.error is None and all(r.status != "failed" for r in self.results)

    @property
    def level(self) -> str:
        """``"ok"``, ``"warn"`` (saved, but a conflict or a refused deletion needs a look) or ``"error"``."""
        if not self.ok:
            return "error"
        return "warn" if any(r.status in ("forked", "kept") and r.message for r in self.results) else "ok"

    def describe(self) -> str:
        if self.error:
            return f"Nothing saved: {self.error}. Your drawing is still in the viewer."
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        words = {"saved": "saved", "forked": "saved as a new ROI (conflict)", "deleted": "deleted",
                 "kept": "left unchanged", "failed": "NOT saved (still in the viewer)"}
        text = "; ".join(f"{n} ROI(s) {words[s]}" for s, n in counts.items()) or "Nothing to save"
        notes = [r.message for r in self.results if r.message]
        return text + "." + ("" if not notes else " " + " ".join(notes))

    def to_ack(self) -> dict[str, Any]:
        """The JSON the viewer gets back: it drops the edits that did not fail."""
        return {"save_id": self.save_id, "ok": self.ok, "level": self.level, "message": self.describe(),
                "results": {r.cid: {"status": r.status, "roi_id": r.roi_id, "message": r.message}
                            for r in self.results}}


def _int_or_none(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{what} must be an integer, got {value!r}")
    return int(value)


def _edit(raw: Any, shape: tuple[int, int], n_slices: int | None) -> RoiEdit:
    if not isinstance(raw, Mapping):
        raise ConfigError("each saved ROI must be an object")
    cid = raw.get("cid")
    if not isinstance(cid, str) or not cid:
        raise ConfigError("each saved ROI needs a client id 'cid'")
    roi_id = _int_or_none(raw.get("id"), "ROI id")
    version = _int_or_none(raw.get("version"), "ROI version")
    slice_index = _int_or_none(raw.get("slice"), "slice")
    if n_slices is not None and (slice_index is None or not 0 <= slice_index < n_slices):
        raise ConfigError(f"slice {slice_index} is outside this image's 0-{n_slices - 1}")
    if roi_id is not None and version is None:
        raise ConfigError(f"an edit of ROI {roi_id} must say which version it started from")
    label = raw.get("label")
    label = label.strip() if isinstance(label, str) else ""
    proposal = raw.get("proposal")
    proposal = proposal if isinstance(proposal, str) else None
    if raw.get("deleted"):
        return RoiEdit(cid, roi_id, version, slice_index, label, None, None, True, proposal)
    if not label:
        raise ConfigError("give every ROI a label before saving")
    if raw.get("kind") == "shape":
        geometry = validate_geometry(raw.get("geometry"))
        if geometry["type"] == "mask":
            raise ConfigError("a shape ROI needs a polygon, freehand, rect or ellipse geometry")
        mask = geometry_to_mask(geometry, shape)
    elif raw.get("kind") == "mask":
        geometry = {"format": GEOMETRY_FORMAT, "type": "mask"}
        mask = decode_rle(raw.get("rle"), shape)
    else:
        raise ConfigError(f"ROI kind must be 'shape' or 'mask', got {raw.get('kind')!r}")
    return RoiEdit(cid, roi_id, version, slice_index, label, geometry, mask, False, proposal)


def parse_save(payload: Any, shape: tuple[int, int], n_slices: int | None = None) -> SaveRequest:
    """Check a save payload for a stack of (H, W) planes (``n_slices`` of them, or None for one plane)."""
    if not isinstance(payload, Mapping):
        raise ConfigError("the viewer's save must be an object")
    edits = payload.get("edits")
    if not isinstance(edits, list):
        raise ConfigError("the viewer's save has no list of edits")
    if len(edits) > MAX_EDITS:
        raise ConfigError(f"{len(edits)} ROIs in one save; save at most {MAX_EDITS} at a time")
    parsed = [_edit(raw, (int(shape[0]), int(shape[1])), n_slices) for raw in edits]
    if len({e.cid for e in parsed}) != len(parsed):
        raise ConfigError("two saved ROIs share a client id")
    return SaveRequest(str(payload.get("save_id", "")), parsed)


def _apply_one(store, edit: RoiEdit, image_id_for: Callable[[int | None], int], annotator: str) -> EditResult:
    if edit.deleted or (edit.mask is not None and not edit.mask.any()):
        if edit.roi_id is None:
            return EditResult(edit.cid, "kept", None, "")
        try:
            store.delete_roi(edit.roi_id, annotator=annotator, expected_version=edit.base_version)
        except StaleVersionError:
            return EditResult(edit.cid, "kept", edit.roi_id,
                              f"ROI {edit.roi_id} was not deleted: someone else changed it after you opened it.")
        return EditResult(edit.cid, "deleted", edit.roi_id, "")
    if edit.roi_id is not None:
        try:
            store.update_roi(edit.roi_id, expected_version=edit.base_version, annotator=annotator,
                             label=edit.label, mask=edit.mask, geometry=edit.geometry)
            return EditResult(edit.cid, "saved", edit.roi_id, "")
        except StaleVersionError:
            current = store.get_roi(edit.roi_id)
            record = store.add_roi(current.image_id, edit.label, edit.mask, annotator=annotator,
                                   geometry=edit.geometry)
            return EditResult(edit.cid, "forked", int(record.id),
                              f"ROI {edit.roi_id} was changed by {current.annotator} (now version "
                              f"{current.version}) after you opened version {edit.base_version}: your edit is "
                              f"saved as the new ROI {record.id} beside it, so both versions are kept.")
    record = store.add_roi(image_id_for(edit.slice_index), edit.label, edit.mask, annotator=annotator,
                           geometry=edit.geometry)
    return EditResult(edit.cid, "saved", int(record.id), "")


def apply_save(store, request: SaveRequest, *, image_id_for: Callable[[int | None], int],
               annotator: str) -> SaveReport:
    """Write every edit of ``request``; ``image_id_for(slice)`` registers/looks up the plane's store id.

    Never raises for a bad edit: each result says saved / forked / deleted /
    kept / failed with a one-line reason.
    """
    report = SaveReport(request.save_id)
    if not annotator.strip():
        report.error = "choose your reader profile before saving"
        return report
    for edit in request.edits:
        try:
            report.results.append(_apply_one(store, edit, image_id_for, annotator.strip()))
        except (EquiGuardError, sqlite3.Error, OSError) as exc:
            reason = str(exc) if isinstance(exc, EquiGuardError) else f"the store could not be written ({type(exc).__name__})"
            report.results.append(EditResult(edit.cid, "failed", edit.roi_id, reason))
    return report
