"""Chance-corrected agreement of class labels: Cohen's κ (two readers) and Fleiss' κ (more).

Cohen (1960): κ = (p_o − p_e) / (1 − p_e) over the images both readers
labelled.  Fleiss (1971): every image rated by the same number n of readers;
with n_ij the number of readers who gave image i category j,
P_i = (Σ_j n_ij² − n) / (n(n − 1)), p_j = Σ_i n_ij / (N n), and
κ = (mean P_i − Σ_j p_j²) / (1 − Σ_j p_j²).  Both are None when undefined
(no images, or only one category in use, so that chance agreement is 1).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

__all__ = ["cohen_kappa", "fleiss_kappa", "LabelAgreement", "label_agreement"]


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's κ of two equally long label sequences (one entry per image)."""
    if len(a) != len(b):
        raise ValueError("Cohen's kappa needs one label per image from each reader")
    if not a:
        return None
    categories = sorted(set(a) | set(b))
    index = {c: k for k, c in enumerate(categories)}
    table = np.zeros((len(categories), len(categories)))
    for x, y in zip(a, b):
        table[index[x], index[y]] += 1
    n = table.sum()
    p_o = np.trace(table) / n
    p_e = float(table.sum(1) @ table.sum(0)) / n**2
    return None if np.isclose(p_e, 1.0) else round(float((p_o - p_e) / (1 - p_e)), 12)


def fleiss_kappa(counts: np.ndarray) -> float | None:
    """Fleiss' κ of an (N images, K categories) table of rater counts with equal row sums n ≥ 2."""
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] == 0:
        return None
    n = table.sum(1)
    if not np.allclose(n, n[0]) or n[0] < 2:
        raise ValueError("Fleiss' kappa needs the same number (at least 2) of ratings for every image")
    raters = n[0]
    p_i = ((table**2).sum(1) - raters) / (raters * (raters - 1))
    p_j = table.sum(0) / table.sum()
    p_e = float((p_j**2).sum())
    return None if np.isclose(p_e, 1.0) else round(float((p_i.mean() - p_e) / (1 - p_e)), 12)


@dataclass
class LabelAgreement:
    """Class-label agreement of a reader study.

    ``pairwise[(a, b)] = (κ, n images)`` is Cohen's κ of every reader pair;
    ``fleiss`` is Fleiss' κ over the ``fleiss_images`` images labelled by all
    ``fleiss_readers`` readers (None with fewer than three readers).
    """

    readers: list[str] = field(default_factory=list)
    pairwise: dict[tuple[str, str], tuple[float | None, int]] = field(default_factory=dict)
    fleiss: float | None = None
    fleiss_readers: int = 0
    fleiss_images: int = 0

    @property
    def headline(self) -> tuple[str, float | None, int]:
        """("Cohen's κ" or "Fleiss' κ", value, n images): the study's one-number summary."""
        if len(self.readers) >= 3:
            return "Fleiss' κ", self.fleiss, self.fleiss_images
        if self.pairwise:
            (value, n), = self.pairwise.values()
            return "Cohen's κ", value, n
        return "κ", None, 0


def label_agreement(labels: Iterable[tuple[int, str, str]]) -> LabelAgreement:
    """Agreement from ``(image_id, reader, label)`` triples (one per reader and image)."""
    by_image: dict[int, dict[str, str]] = defaultdict(dict)
    for image_id, reader, label in labels:
        by_image[image_id][reader] = label
    readers = sorted({r for votes in by_image.values() for r in votes})
    result = LabelAgreement(readers=readers)
    for i, x in enumerate(readers):
        for y in readers[i + 1:]:
            shared = [v for v in by_image.values() if x in v and y in v]
            if shared:
                result.pairwise[(x, y)] = (cohen_kappa([v[x] for v in shared], [v[y] for v in shared]), len(shared))
    if len(readers) >= 3:
        full = [v for v in by_image.values() if len(v) == len(readers)]
        categories = sorted({lab for v in full for lab in v.values()})
        table = np.array([[list(v.values()).count(c) for c in categories] for v in full]).reshape(len(full), -1)
        result.fleiss = fleiss_kappa(table) if full else None
        result.fleiss_readers, result.fleiss_images = len(readers), len(full)
    return result
