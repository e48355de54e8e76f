"""Typed rows returned by :class:`core.store.AnnotationStore`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.store.masks import decode_mask

__all__ = ["ImageRecord", "RoiRecord", "RoiVersion", "ImageLabel", "Job", "JOB_STATUSES", "FINAL_JOB_STATUSES"]

JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled")
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
    """The class label of an image (used for few-shot training)."""

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


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
