"""Images the analysis pages can pick: digits test samples, workspace images, uploads.

Every source becomes a :class:`StudioImage`: display pixels in [0, 1], and
where known the class label and the union of the image's stored ROIs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import LoadError
from core.workspace import Workspace

__all__ = ["Source", "StudioImage", "list_sources", "load_source", "from_upload", "N_DIGITS"]

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
    """The first digits test images (what the demo models know), then the workspace images."""
    from core.store import AnnotationStore

    store = AnnotationStore(workspace)
    labels = {lab.image_id: lab.label for lab in store.list_image_labels()}
    sources = [Source("store", int(rec.id), (rec.display_name or f"image {rec.id}")
                      + (f" [{labels[rec.id]}]" if rec.id in labels else ""))
               for rec in store.list_images()]
    digits = _digits()
    return [Source("digits", i, f"digits test #{i} (a {digits.classes[int(digits.labels[i])]})")
            for i in range(min(N_DIGITS, len(digits)))] + sources


def load_source(workspace: Workspace, source: Source) -> StudioImage:
    """The pixels, label and ROI of one source."""
    if source.kind == "digits":
        digits = _digits()
        x, y = digits[source.ref]
        return StudioImage(x[0].numpy(), source.title, int(y), digits.classes[int(y)])
    if source.kind == "store":
        from core.store import AnnotationStore

        from core.io import load_image
        from core.studio.planes import plane_of, render_plane

        store = AnnotationStore(workspace)
        rec = store.get_image(source.ref)
        pixels = render_plane(load_image(rec.source_path), plane_of(rec))
        masks = [r.mask for r in store.list_rois(rec.id)]
        roi = np.logical_or.reduce(masks) if masks else None
        label = store.get_image_label(rec.id)
        return StudioImage(pixels, source.title, None, label.label if label else None, roi)
    raise LoadError(f"unknown image source {source.kind!r}")


def from_upload(data: bytes, name: str) -> StudioImage:
    """An uploaded file (DICOM, NIfTI, PNG/JPEG...) rendered with its default window."""
    from core.io import load_image
    from core.studio.uploads import check_upload

    check_upload(data, name)
    image = load_image(data, name=name)
    middle = image.n_slices("axial") // 2 if image.is_volume else 0
    pixels = image.render(middle, axis="axial") if image.is_volume else image.render(0)
    return StudioImage(pixels, name)
