"""Typed rows returned by :class:`core.store.AnnotationStore`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.store.masks import decode_mask

__all__ = ["ImageRecord", "RoiRecord", "RoiVersion", "ImageLabel", "Job", "JOB_STATUSES", "FINAL_JOB_STATUSES",
           "Reader", "ROLES", "TaskList", "Submission", "ImageOverview", "Proposal", "ProposalDecision",
           "DECISIONS"]

JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled")
#: Reader roles: a ``reader`` is blinded to other readers' work where blinding is on; an
#: ``adjudicator`` always sees everything and their class label decides the image's label.
ROLES = ("reader", "adjudicator")
#: What a reader did with a model-proposed ROI.
DECISIONS = ("accepted", "edited", "rejected")
FINAL_JOB_STATUSES = frozenset({"done", "failed", "cancelled"})


@dataclass(frozen=True)
class ImageRecord:
    """One annotatable 2-D plane: a whole 2-D image, a frame, or a slice of a volume.

    ``slice_index``/``axis`` are None for a plain 2-D image; ``axis`` is None and
    ``slice_index`` set for a frame of a multi-frame file; both set for a slice
    of a volume (``axis`` in ``core.io.AXES``).  ``shape`` is the plane's (H, W),
    the shape every ROI mask of this image has.
    """

    id: int
    sha256: str
    source_path: str
    slice_index: int | None
    axis: str | None
    shape: tuple[int, int]
    source_shape: tuple[int, ...] | None
    display_name: str | None
    modality: str | None
    created_at: str
    spacing: tuple[float, float] | None = None  # (row, col) mm of the plane, when the source says so


@dataclass(frozen=True)
class RoiRecord:
    """The current state of one ROI; ``mask`` (H, W) bool is decoded from ``mask_png``."""

    id: int
    uid: str
    image_id: int
    label: str
    geometry: Any
    mask_png: bytes = field(repr=False)
    mask_sha256: str
    area: int
    annotator: str
    version: int
    deleted: bool
    created_at: str
    updated_at: str

    @property
    def mask(self) -> np.ndarray:
        return decode_mask(self.mask_png)


@dataclass(frozen=True)
class RoiVersion:
    """One entry of an ROI's edit history (``op``: create/update/delete/restore/undo)."""

    roi_id: int
    version: int
    op: str
    label: str
    geometry: Any
    mask_png: bytes = field(repr=False)
    mask_sha256: str
    area: int
    annotator: str
    deleted: bool
    updated_at: str
    parent_version: int

    @property
    def mask(self) -> np.ndarray:
        return decode_mask(self.mask_png)


@dataclass(frozen=True)
class ImageLabel:
    """One reader's class label of an image (``annotator`` is the reader)."""

    image_id: int
    label: str
    annotator: str
    updated_at: str


@dataclass(frozen=True)
class Job:
    """A background job row; ``events`` is filled by ``get_job(..., events=True)`` (oldest first)."""

    id: int
    kind: str
    title: str
    argv: list[str]
    status: str
    pid: int | None
    progress: float | None
    last_event: dict[str, Any] | None
    result: Any
    result_path: str | None
    error: str | None
    exit_code: int | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    events: list[dict[str, Any]] | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_JOB_STATUSES


@dataclass(frozen=True)
class Reader:
    """A reader profile: ``name`` (as stored in every ROI/label's ``annotator``) and ``role`` (see :data:`ROLES`)."""

    name: str
    role: str = "reader"

    @property
    def is_adjudicator(self) -> bool:
        return self.role == "adjudicator"


@dataclass(frozen=True)
class TaskList:
    """A named, ordered list of images; ``blinded`` turns blinded reading on for its images."""

    id: int
    name: str
    blinded: bool
    created_at: str
    image_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Submission:
    """A reader declared their reading of an image finished (in blinded mode this unblinds it for them)."""

    image_id: int
    reader: str
    submitted_at: str


@dataclass(frozen=True)
class ImageOverview:
    """One row of :meth:`AnnotationStore.image_overview`: what a reader may see of an image, counted.

    ``n_rois``/``readers``/``class_label`` count only what the reader is allowed
    to see (everything when the image is not blinded, the reader submitted it,
    or is an adjudicator).
    """

    image: ImageRecord
    n_rois: int
    readers: tuple[str, ...]
    class_label: str | None
    blinded: bool
    submitted: bool
    n_submissions: int


@dataclass(frozen=True)
class Proposal:
    """An ROI proposed by a model (``mask`` (H, W) bool), before any reader decided on it."""

    id: int
    image_id: int
    label: str
    model: str
    model_sha256: str
    method: dict[str, Any]
    mask_png: bytes = field(repr=False)
    mask_sha256: str
    area: int
    score: float | None
    created_at: str

    @property
    def mask(self) -> np.ndarray:
        return decode_mask(self.mask_png)


@dataclass(frozen=True)
class ProposalDecision:
    """A reader's decision on a proposal; ``roi_id`` is the ROI it became (None when rejected)."""

    proposal_id: int
    reader: str
    decision: str
    roi_id: int | None
    decided_at: str


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
