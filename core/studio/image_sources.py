"""Images the analysis pages can pick: workspace images, digits test samples, uploads.

Every source becomes a :class:`StudioImage`: display pixels in [0, 1], and
where known the class label, the union of the image's stored ROIs and the
dataset it comes from (what :mod:`core.studio.compat` pairs models with).
Workspace images with an ROI are listed first: they are what the medical
analyses need.  A store image's dataset is ``"store"`` unless its ROIs say
where it was generated (the demo's phantoms record ``geometry["dataset"]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import LoadError
from core.workspace import Workspace

from core.studio.compat import ImageSpec

__all__ = ["Source", "StudioImage", "list_sources", "load_source", "from_upload", "N_DIGITS"]

#: How many digits test images are offered.
N_DIGITS = 20


@dataclass(frozen=True)
class Source:
    """A pickable image: ``kind`` is ``"digits"`` or ``"store"``; ``ref`` its index or image id;
    ``has_roi`` whether it has a stored ROI."""

    kind: str
    ref: int
    title: str
    has_roi: bool = False


@dataclass
class StudioImage:
    """Display pixels (H, W) or (H, W, 3) in [0, 1], plus what is known about them."""

    pixels: np.ndarray
    title: str
    label: int | None = None
    label_name: str | None = None
    roi: np.ndarray | None = None  # (H, W) bool
    dataset: str | None = None  # "digits", "store", "brain-phantom", ...; None for uploads
    modality: str | None = None  # e.g. "CT" (DICOM), for messages

    @property
    def spec(self) -> ImageSpec:
        """What the image is, for :func:`core.studio.compat.pairing_problem`."""
        kind = f"{self.modality} image" if self.modality else None
        return ImageSpec.of(self.pixels, dataset=self.dataset, kind=kind, class_name=self.label_name)


def _digits():
    from core.datasets import load_dataset

    return load_dataset("digits", "test")


def list_sources(workspace: Workspace) -> list[Source]:
    """Workspace images with an ROI, the other workspace images, then the first digits test images."""
    from core.store import AnnotationStore

    rows = AnnotationStore(workspace).image_overview()
    stored = [Source("store", int(row.image.id), (row.image.display_name or f"image {row.image.id}")
                     + (f" [{row.class_label}]" if row.class_label else "") + (" · ROI" if row.n_rois else ""),
                     row.n_rois > 0)
              for row in rows]
    stored.sort(key=lambda s: not s.has_roi)  # stable: ROI images first, each group by id
    digits = _digits()
    return stored + [Source("digits", i, f"digits test #{i} (a {digits.classes[int(digits.labels[i])]})")
                     for i in range(min(N_DIGITS, len(digits)))]


def load_source(workspace: Workspace, source: Source) -> StudioImage:
    """The pixels, label and ROI of one source."""
    if source.kind == "digits":
        digits = _digits()
        x, y = digits[source.ref]
        return StudioImage(x[0].numpy(), source.title, int(y), digits.classes[int(y)], dataset="digits")
    if source.kind == "store":
        from core.store import AnnotationStore

        from core.io import load_image
        from core.studio.planes import plane_of, render_plane

        store = AnnotationStore(workspace)
        rec = store.get_image(source.ref)
        pixels = render_plane(load_image(rec.source_path), plane_of(rec))
        rois = store.list_rois(rec.id)
        roi = np.logical_or.reduce([r.mask for r in rois]) if rois else None
        label = store.get_image_label(rec.id)
        generated = {r.geometry.get("dataset") for r in rois if isinstance(r.geometry, dict)} - {None}
        dataset = generated.pop() if len(generated) == 1 else "store"
        return StudioImage(pixels, source.title, None, label.label if label else None, roi, dataset=dataset,
                           modality=rec.modality)
    raise LoadError(f"unknown image source {source.kind!r}")


def from_upload(data: bytes, name: str) -> StudioImage:
    """An uploaded file (DICOM, NIfTI, PNG/JPEG...) rendered with its default window."""
    from core.io import load_image
    from core.studio.uploads import check_upload

    check_upload(data, name)
    image = load_image(data, name=name)
    middle = image.n_slices("axial") // 2 if image.is_volume else 0
    pixels = image.render(middle, axis="axial") if image.is_volume else image.render(0)
    return StudioImage(pixels, name, modality=image.modality)
