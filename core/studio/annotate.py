"""What the Annotate page does around the viewer: what a reader sees of a file, and saving their edits.

A plane stack is one file along one axis (a volume's slices, a multi-frame
file's frames, or a single 2-D image).  The store has one image row per
annotated plane; rows are registered on the first save that needs them.

In a reader study every reader edits only their own ROIs: other readers' ROIs
travel as read-only overlays (and only once the reader may see them, see
:meth:`core.store.AnnotationStore.visible_rois`), because an edit would make
the ROI the editor's own.  Model proposals pending for the reader travel as
proposals; a saved proposal becomes the reader's decision on it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.errors import ConfigError, EquiGuardError
from core.studio.planes import Plane, find_plane, register_plane
from core.viewer import EditResult, SaveReport, SaveRequest, apply_save, record_payload, roi_payload

__all__ = ["stack_planes", "stack_rois", "plane_ids", "save_edits", "StackView", "stack_view", "submit_stack",
           "NO_READER"]

#: Why a save, label or submission is refused before a reader profile is chosen.
NO_READER = "choose your reader profile in the sidebar before saving"


def stack_planes(store, sha256: str, image, axis: str | None) -> list:
    """The store's records of this file's planes along ``axis`` (frames/2-D when None), by plane index."""
    records = [r for r in store.list_images(sha256) if r.axis == axis]
    if axis is None and not image.is_volume:
        records = [r for r in records if (r.slice_index is None) == (image.n_frames == 1)]
    return sorted(records, key=lambda r: r.slice_index or 0)


def _several(image) -> bool:
    return image.is_volume or image.n_frames > 1


def stack_rois(store, sha256: str, image, axis: str | None,
               rois_of: Callable[[int], list] | None = None) -> list[dict[str, Any]]:
    """The live ROIs on the stack's planes, as viewer payloads (``slice`` set when there are several planes).

    ``rois_of(image_id)`` chooses which ROIs a plane shows (default: all, ``store.list_rois``); a
    blinded reading passes the reader's visible ones.
    """
    rois_of = rois_of or store.list_rois
    return [record_payload(roi, rec.slice_index if _several(image) else None)
            for rec in stack_planes(store, sha256, image, axis) for roi in rois_of(rec.id)]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#%02x%02x%02x" % tuple(rgb)


@dataclass
class StackView:
    """What ``reader`` sees of one plane stack.

    ``rois``: their own live ROIs (editable viewer payloads); ``overlays``: the
    other readers' ROIs they may see (read-only, one colour per other reader,
    ``colours``); ``proposals``: model proposals they have not decided yet
    (``pending``, payload ``name`` = the proposal id).  ``mine``/``theirs``/
    ``deleted`` are (plane record, ROI record) pairs for the list under the
    viewer.  ``blinded``: some plane of the stack is blinded; ``hidden``: the
    reader may not see others' work on some plane yet; ``submitted``: they
    submitted every registered plane.
    """

    records: list
    rois: list[dict[str, Any]] = field(default_factory=list)
    overlays: list[dict[str, Any]] = field(default_factory=list)
    proposals: list[dict[str, Any]] = field(default_factory=list)
    pending: list = field(default_factory=list)
    mine: list = field(default_factory=list)
    theirs: list = field(default_factory=list)
    deleted: list = field(default_factory=list)
    colours: dict[str, str] = field(default_factory=dict)
    blinded: bool = False
    hidden: bool = False
    submitted: bool = False


def stack_view(store, sha256: str, image, axis: str | None, reader: str | None) -> StackView:
    """The reader's view of the stack (no reader: only what is not blinded, nothing editable)."""
    from core.studio.agreement_view import reader_colors

    records = stack_planes(store, sha256, image, axis)
    view = StackView(records, blinded=store.workspace_blinded())
    submitted = set() if reader is None else {s.image_id for s in store.submissions(reader=reader)}
    for rec in records:
        blinded = store.is_blinded(rec.id)
        view.blinded |= blinded
        if reader is None:
            visible = [] if blinded else store.list_rois(rec.id, include_deleted=True)
            view.hidden |= blinded
        else:
            visible = store.visible_rois(rec.id, reader, include_deleted=True)
            view.hidden |= not store.sees_everything(rec.id, reader)
            view.pending += [(rec, p) for p in store.list_proposals(rec.id, pending_for=reader)]
        for roi in visible:
            if roi.annotator != reader:
                view.theirs += [] if roi.deleted else [(rec, roi)]
            else:
                (view.deleted if roi.deleted else view.mine).append((rec, roi))
    view.submitted = reader is not None and bool(records) and all(rec.id in submitted for rec in records)
    if not records:  # nothing registered yet: blinded for a reader of a blinded workspace
        view.hidden = view.blinded and not (reader is not None and store.get_reader(reader).is_adjudicator)
    view.colours = {n: _hex(c) for n, c in reader_colors(sorted({roi.annotator for _, roi in view.theirs})).items()}
    index = (lambda rec: rec.slice_index) if _several(image) else (lambda rec: None)
    view.rois = [record_payload(roi, index(rec)) for rec, roi in view.mine]
    view.overlays = [{**record_payload(roi, index(rec), colour=view.colours[roi.annotator]), "name": roi.annotator}
                     for rec, roi in view.theirs]
    view.proposals = [roi_payload(p.label, mask=p.mask, slice_index=index(rec), name=str(p.id),
                                  annotator=p.model) for rec, p in view.pending]
    return view


def plane_ids(store, path: Path, sha256: str, image, axis: str | None) -> Callable[[int | None], int]:
    """``image_id_for(slice)``: the store id of a plane of the stack, registered on first use."""
    def image_id_for(index: int | None) -> int:
        plane = Plane(index or 0, axis)
        record = find_plane(store, sha256, image, plane)
        return record.id if record else register_plane(store, Path(path), image, plane)
    return image_id_for


def _decide(store, edit, reader: str) -> EditResult:
    """A saved proposal: the reader accepts it (as proposed, or edited) or, deleted, rejects it."""
    try:
        proposal_id = int(edit.proposal)
    except ValueError:
        raise ConfigError(f"the viewer sent an unknown proposal {edit.proposal!r}") from None
    if edit.deleted:
        store.decide_proposal(proposal_id, reader, accept=False)
        return EditResult(edit.cid, "deleted", None, f"Proposal {proposal_id} rejected.")
    decision = store.decide_proposal(proposal_id, reader, accept=True, mask=edit.mask, label=edit.label,
                                     geometry=edit.geometry)
    return EditResult(edit.cid, "saved", decision.roi_id,
                      f"Proposal {proposal_id} {decision.decision} as ROI {decision.roi_id}.")


def save_edits(store, path: Path, sha256: str, image, axis: str | None, request: SaveRequest,
               annotator: str) -> SaveReport:
    """Apply a viewer save to the store as ``annotator`` (the reader's name; "" refuses the save).

    Ordinary edits go through :func:`core.viewer.apply_save`; an edit of a
    model proposal (``RoiEdit.proposal``) records the reader's decision,
    which stores the accepted ROI with its provenance.
    """
    reader = annotator.strip()
    if not reader:
        return SaveReport(request.save_id, error=NO_READER)
    decided = [e for e in request.edits if e.proposal is not None and e.roi_id is None]
    rest = SaveRequest(request.save_id, [e for e in request.edits if e.proposal is None or e.roi_id is not None])
    report = apply_save(store, rest, image_id_for=plane_ids(store, path, sha256, image, axis), annotator=reader)
    for edit in decided:
        try:
            report.results.append(_decide(store, edit, reader))
        except EquiGuardError as exc:  # e.g. decided meanwhile in another tab: the viewer keeps the edit
            report.results.append(EditResult(edit.cid, "failed", None, str(exc)))
        except sqlite3.Error as exc:
            report.results.append(EditResult(edit.cid, "failed", None,
                                             f"the store could not be written ({type(exc).__name__})"))
    return report


def submit_stack(store, path: Path, sha256: str, image, axis: str | None, reader: str | None,
                 reading_plane: Plane) -> int:
    """Submit ``reader``'s reading of the stack: every registered plane plus ``reading_plane``; returns how many."""
    if not reader:
        raise ConfigError(NO_READER.replace("saving", "submitting"))
    plane_ids(store, path, sha256, image, axis)(reading_plane.index if _several(image) else None)
    records = stack_planes(store, sha256, image, axis)
    for rec in records:
        store.submit_image(rec.id, reader)
    return len(records)
