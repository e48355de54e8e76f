"""Images the analysis pages can pick: digits test samples, workspace images, uploads.

Every source becomes a :class:`StudioImage`: display pixels in [0, 1], and
where known the class label and the union of the image's stored ROIs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import LoadError
from core.workspace import Workspace

__all__ = ["Source", "StudioImage", "list_sources", "load_source", "from_upload", "MAX_UPLOAD_BYTES",
           "N_DIGITS"]

#: Uploads larger than this are refused before parsing (the studio runs on a laptop).
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
#: How many digits test images are offered.
N_DIGITS = 20


@dataclass(frozen=True)
class Source:
    """A pickable image: ``kind`` is ``"digits"`` or ``"store"``; ``ref`` its index or image id."""

    kind: str
    ref: int
    title: str


@dataclass
class StudioImage:
    """Display pixels (H, W) or (H, W, 3) in [0, 1], plus what is known about them."""

    pixels: np.ndarray
    title: str
    label: int | None = None
    label_name: str | None = None
    roi: np.ndarray | None = None  # (H, W) bool


def _digits():
    from core.datasets import load_dataset

    return load_dataset("digits", "test")


def list_sources(workspace: Workspace) -> list[Source]:
    """Workspace images first (store order), then the first digits test images."""
    from core.store import AnnotationStore

    sources = [Source("store", int(rec.id), f"{rec.name}" + (f" [{rec.class_label}]" if rec.class_label else ""))
               for rec in AnnotationStore(workspace).list_images()]
    digits = _digits()
    sources += [Source("digits", i, f"digits test #{i} (a {digits.classes[int(digits.labels[i])]})")
                for i in range(min(N_DIGITS, len(digits)))]
    return sources


def load_source(workspace: Workspace, source: Source) -> StudioImage:
    """The pixels, label and ROI of one source."""
    if source.kind == "digits":
        digits = _digits()
        x, y = digits[source.ref]
        return StudioImage(x[0].numpy(), source.title, int(y), digits.classes[int(y)])
    if source.kind == "store":
        from core.store import AnnotationStore

        store = AnnotationStore(workspace)
        image = store.open_image(source.ref)
        pixels = image.render(0)
        masks = [r.mask for r in store.list_rois(source.ref) if r.frame == 0]
        roi = np.logical_or.reduce(masks) if masks else None
        rec = store.get_image(source.ref)
        return StudioImage(pixels, source.title, None, rec.class_label, roi)
    raise LoadError(f"unknown image source {source.kind!r}")


def from_upload(data: bytes, name: str) -> StudioImage:
    """An uploaded file (DICOM, NIfTI, PNG/JPEG...) rendered with its default window."""
    from core.io import load_image

    if len(data) > MAX_UPLOAD_BYTES:
        raise LoadError(f"{name} is {len(data) / 2**20:.0f} MB; the studio accepts files up to "
                        f"{MAX_UPLOAD_BYTES / 2**20:.0f} MB")
    image = load_image(data, name=name)
    middle = image.n_slices("axial") // 2 if image.is_volume else 0
    pixels = image.render(middle, axis="axial") if image.is_volume else image.render(0)
    return StudioImage(pixels, name)
