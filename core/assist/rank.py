"""The "annotate next" queue: unread images, most useful to a reader first.

Orders (all "most uncertain first"):

* ``entropy`` — normalised predictive entropy, high first;
* ``margin`` — the model's margin between its two best classes (prototype
  distances for a few-shot model, logits for a classifier), small first;
* ``cam_spread`` — the normalised spatial entropy of the Grad-CAM, diffuse first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from core.assist.base import Assistant, cam_spread, plane_pixels
from core.errors import ConfigError

__all__ = ["ORDERS", "RankedImage", "rank_images", "rank_planes", "unread_images", "annotate_next"]

ORDERS = ("entropy", "margin", "cam_spread")


@dataclass(frozen=True)
class RankedImage:
    """One image of the queue with the model's view of it; ``uncertainty`` is what it was ranked by."""

    image_id: int
    uncertainty: float
    predicted: str
    probability: float
    entropy: float
    margin: float
    cam_spread: float


def rank_images(assistant: Assistant, items: Iterable[tuple[int, object]], by: str = "entropy",
                batch: int = 16) -> list[RankedImage]:
    """``items`` of (image id, display pixels) ranked by ``by`` (see :data:`ORDERS`); ties keep input order."""
    if by not in ORDERS:
        raise ConfigError(f"unknown order {by!r}; choose one of {', '.join(ORDERS)}")
    items = list(items)
    results = assistant.analyse([pixels for _, pixels in items], batch=batch)
    ranked = []
    for (image_id, _), r in zip(items, results):
        spread = cam_spread(r.cam)
        value = {"entropy": r.entropy, "margin": -r.margin, "cam_spread": spread}[by]
        ranked.append(RankedImage(int(image_id), float(value), assistant.class_names[r.predicted],
                                  float(r.probabilities[r.predicted]), r.entropy, r.margin, spread))
    order = sorted(range(len(ranked)), key=lambda k: -ranked[k].uncertainty)
    return [ranked[k] for k in order]


def unread_images(store, reader: str | None = None, image_ids: Iterable[int] | None = None) -> list[int]:
    """Images nobody (or, with ``reader``, that reader) has outlined, labelled or submitted, by id."""
    rows = store.image_overview(reader, image_ids=image_ids)
    if reader is None:
        return [row.image.id for row in rows if not row.readers and row.n_submissions == 0]
    return [row.image.id for row in rows if reader not in row.readers and not row.submitted]


def rank_planes(store, assistant: Assistant, image_ids: Iterable[int] | None = None, *,
                by: str = "entropy") -> list[RankedImage]:
    """The store's planes ``image_ids`` (default all), read or not, ranked by ``by``; ties by file, then id.

    A page can keep this (it depends only on the model and the planes) and
    drop the planes read since, which gives :func:`annotate_next`'s order.
    """
    records = sorted(store.get_images(image_ids).values(), key=lambda r: (r.source_path, r.id))
    return rank_images(assistant, ((rec.id, pixels) for rec, pixels in plane_pixels(records)), by)


def annotate_next(store, assistant: Assistant, *, by: str = "entropy", reader: str | None = None,
                  image_ids: Iterable[int] | None = None, limit: int | None = None) -> list[RankedImage]:
    """The unread images of the store (optionally within ``image_ids``), ranked for ``reader``."""
    ranked = rank_planes(store, assistant, unread_images(store, reader, image_ids), by=by)
    return ranked if limit is None else ranked[:limit]
