"""The Agreement page's computation: every image read by two or more readers, compared.

:func:`agreement_report` reads the whole store in five queries
(:meth:`~core.store.AnnotationStore.live_roi_masks`, labels, submissions,
images, roles), then computes per image and label the pairwise Dice, IoU and
HD95 of the readers' masks (each reader's union of ROIs of that label; a
reader of the image who drew nothing of a label has an empty mask, Dice 0),
and the class-label κ.  A reader *read* an image when they drew on it,
labelled it or submitted it.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from core.agreement.kappa import LabelAgreement, label_agreement
from core.agreement.metrics import reader_pairs
from core.store.masks import decode_mask

__all__ = ["PairRow", "ImageAgreement", "ReaderAgreement", "AgreementReport", "agreement_report", "reader_masks"]


@dataclass(frozen=True)
class PairRow:
    """Two readers on one image and label."""

    image_id: int
    label: str
    reader_a: str
    reader_b: str
    dice: float
    iou: float
    hd95_px: float | None
    hd95_mm: float | None


@dataclass(frozen=True)
class ImageAgreement:
    """One image's agreement summary (means/minima over its reader pairs and labels)."""

    image_id: int
    name: str
    readers: tuple[str, ...]
    labels: tuple[str, ...]
    class_labels: dict[str, str]
    n_pairs: int
    mean_dice: float
    min_dice: float
    mean_iou: float
    max_hd95_px: float | None
    max_hd95_mm: float | None

    @property
    def class_labels_agree(self) -> bool | None:
        return None if len(self.class_labels) < 2 else len(set(self.class_labels.values())) == 1


@dataclass(frozen=True)
class ReaderAgreement:
    """One reader against the others on the images they share."""

    reader: str
    role: str
    images: int
    rois: int
    pairs: int
    mean_dice: float
    mean_iou: float
    median_hd95_px: float | None
    median_hd95_mm: float | None


@dataclass
class AgreementReport:
    """Everything the Agreement page shows.  ``dice_matrix`` is (readers × readers) mean Dice, NaN if unshared."""

    pairs: list[PairRow] = field(default_factory=list)
    images: list[ImageAgreement] = field(default_factory=list)
    readers: list[ReaderAgreement] = field(default_factory=list)
    reader_names: list[str] = field(default_factory=list)
    dice_matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    labels: LabelAgreement = field(default_factory=LabelAgreement)
    seconds: float = 0.0

    def worst(self, n: int = 6) -> list[ImageAgreement]:
        """The ``n`` images with the lowest minimum (then mean) Dice; images without a pair come last."""
        def key(im: ImageAgreement):
            return (math.isnan(im.min_dice), im.min_dice, im.mean_dice, im.image_id)
        return sorted(self.images, key=key)[:n]

    def image_rows(self) -> list[dict[str, Any]]:
        """One table row per image (numbers rounded to 3 decimals for display)."""
        return [{"image": im.image_id, "name": im.name, "readers": len(im.readers), "labels": ", ".join(im.labels),
                 "min Dice": _r(im.min_dice), "mean Dice": _r(im.mean_dice), "mean IoU": _r(im.mean_iou),
                 "max HD95 px": _r(im.max_hd95_px), "max HD95 mm": _r(im.max_hd95_mm),
                 "class labels": ", ".join(f"{r}: {lab}" for r, lab in sorted(im.class_labels.items())),
                 "labels agree": im.class_labels_agree} for im in self.images]

    def reader_rows(self) -> list[dict[str, Any]]:
        """One table row per reader (numbers rounded to 3 decimals for display)."""
        return [{"reader": r.reader, "role": r.role, "images": r.images, "ROIs": r.rois, "pairs": r.pairs,
                 "mean Dice": _r(r.mean_dice), "mean IoU": _r(r.mean_iou), "median HD95 px": _r(r.median_hd95_px),
                 "median HD95 mm": _r(r.median_hd95_mm)} for r in self.readers]


def _r(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def _mean(values: Iterable[float]) -> float:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def _median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.median(vals)) if vals else None


def reader_masks(rows) -> dict[int, dict[str, dict[str, np.ndarray]]]:
    """``{image: {label: {reader: union mask}}}`` from :class:`~core.store.RoiMaskRow` rows."""
    out: dict[int, dict[str, dict[str, np.ndarray]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        mask = decode_mask(row.mask_png)
        slot = out[row.image_id][row.label]
        slot[row.reader] = slot[row.reader] | mask if row.reader in slot else mask
    return out


def agreement_report(store, image_ids: Iterable[int] | None = None, label: str | None = None) -> AgreementReport:
    """Pairwise mask agreement, per-image and per-reader summaries and label κ of ``store``'s readers."""
    t0 = time.perf_counter()
    wanted = None if image_ids is None else {int(i) for i in image_ids}
    rows = store.live_roi_masks(wanted, label)
    labels = [lab for lab in store.reader_labels() if wanted is None or lab.image_id in wanted]
    readers_of: dict[int, set[str]] = defaultdict(set)
    rois_of: dict[str, int] = defaultdict(int)
    for row in rows:
        readers_of[row.image_id].add(row.reader)
        rois_of[row.reader] += 1
    class_labels: dict[int, dict[str, str]] = defaultdict(dict)
    for lab in labels:
        readers_of[lab.image_id].add(lab.annotator)
        class_labels[lab.image_id][lab.annotator] = lab.label
    for sub in store.submissions():
        if wanted is None or sub.image_id in wanted:
            readers_of[sub.image_id].add(sub.reader)
    multi = sorted(i for i, names in readers_of.items() if len(names) >= 2)
    records = store.get_images(multi)
    roles = store.reader_roles()
    masks = reader_masks(r for r in rows if r.image_id in records)
    report = AgreementReport()
    for image_id in multi:
        rec = records[image_id]
        names = sorted(readers_of[image_id])
        image_pairs: list[PairRow] = []
        for lab in sorted(masks.get(image_id, {})):
            drawn = masks[image_id][lab]
            full = {n: drawn.get(n, np.zeros(rec.shape, bool)) for n in names}
            for (a, b), m in reader_pairs(full, rec.spacing).items():
                image_pairs.append(PairRow(image_id, lab, a, b, m.dice, m.iou, m.hd95_px, m.hd95_mm))
        report.pairs.extend(image_pairs)
        hd_px = [p.hd95_px for p in image_pairs if p.hd95_px is not None]
        hd_mm = [p.hd95_mm for p in image_pairs if p.hd95_mm is not None]
        report.images.append(ImageAgreement(
            image_id, rec.display_name or f"image {image_id}", tuple(names), tuple(sorted(masks.get(image_id, {}))),
            dict(class_labels.get(image_id, {})), len(image_pairs), _mean(p.dice for p in image_pairs),
            min((p.dice for p in image_pairs), default=float("nan")), _mean(p.iou for p in image_pairs),
            max(hd_px) if hd_px else None, max(hd_mm) if hd_mm else None))
    names = sorted({n for i in multi for n in readers_of[i]})
    index = {n: k for k, n in enumerate(names)}
    sums, counts = np.zeros((len(names), len(names))), np.zeros((len(names), len(names)))
    by_reader: dict[str, list[PairRow]] = defaultdict(list)
    for p in report.pairs:
        by_reader[p.reader_a].append(p)
        by_reader[p.reader_b].append(p)
        i, j = index[p.reader_a], index[p.reader_b]
        sums[i, j] += p.dice
        sums[j, i] += p.dice
        counts[i, j] += 1
        counts[j, i] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    np.fill_diagonal(matrix, 1.0)
    report.reader_names, report.dice_matrix = names, matrix
    for n in names:
        mine = by_reader[n]
        report.readers.append(ReaderAgreement(
            n, roles.get(n, "reader"), sum(1 for i in multi if n in readers_of[i]), rois_of[n], len(mine),
            _mean(p.dice for p in mine), _mean(p.iou for p in mine), _median(p.hd95_px for p in mine),
            _median(p.hd95_mm for p in mine)))
    report.labels = label_agreement((lab.image_id, lab.annotator, lab.label) for lab in labels
                                    if len(readers_of[lab.image_id]) >= 2)
    report.seconds = time.perf_counter() - t0
    return report
