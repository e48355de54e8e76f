"""Overlap and boundary-distance agreement between two readers' masks.

Conventions (those of MONAI's ``compute_hausdorff_distance``):

* a mask's **surface** is its set of boundary pixels: mask pixels with at
  least one 4-neighbour outside the mask (or outside the image);
* distances are Euclidean between pixel centres, scaled by the pixel spacing
  (row, col) in mm when it is known;
* **HD95** is ``max(P95(d(A→B)), P95(d(B→A)))`` over the directed
  surface-to-surface distances (numpy's linear percentile); HD100 is the
  classical Hausdorff distance.

Everything is computed on the bounding box of the masks' union plus one
pixel, which gives the same numbers as the full image (every surface pixel
lies inside it) in a fraction of the time for small lesions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy import ndimage

__all__ = ["PairMetrics", "dice", "iou", "surface", "surface_distances", "hausdorff", "pair_metrics",
           "reader_pairs"]

_CROSS = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class PairMetrics:
    """Agreement of two masks.  Distances are None when a mask is empty; ``*_mm`` None without spacing."""

    dice: float
    iou: float
    hd95_px: float | None
    hd95_mm: float | None
    area_a: int
    area_b: int


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """2|A∩B| / (|A|+|B|) of two bool (H, W) masks; NaN when both are empty."""
    total = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    return float("nan") if total == 0 else 2.0 * int(np.count_nonzero(a & b)) / total


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """|A∩B| / |A∪B| of two bool (H, W) masks; NaN when both are empty."""
    union = int(np.count_nonzero(a | b))
    return float("nan") if union == 0 else int(np.count_nonzero(a & b)) / union


def surface(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels (H, W) bool: the mask minus its erosion by the 4-neighbour cross."""
    m = np.asarray(mask, bool)
    return m & ~ndimage.binary_erosion(m, _CROSS, border_value=0)


def _crop(masks: Sequence[np.ndarray]) -> tuple[slice, slice] | None:
    union = np.logical_or.reduce([np.asarray(m, bool) for m in masks])
    rows, cols = np.flatnonzero(union.any(1)), np.flatnonzero(union.any(0))
    if rows.size == 0:
        return None
    h, w = union.shape
    return (slice(max(rows[0] - 1, 0), min(rows[-1] + 2, h)), slice(max(cols[0] - 1, 0), min(cols[-1] + 2, w)))


def _distance_to(surf: np.ndarray, spacing: tuple[float, float]) -> np.ndarray:
    """Exact Euclidean distance of every pixel to the nearest pixel of ``surf`` (which must not be empty).

    Isotropic spacing: OpenCV's exact (``DIST_MASK_PRECISE``) transform, 5x
    faster than SciPy's; anisotropic spacing: SciPy's with ``sampling``.
    """
    if spacing[0] != spacing[1]:
        return ndimage.distance_transform_edt(~surf, sampling=spacing)
    import cv2

    field = cv2.distanceTransform((~surf).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return field if spacing[0] == 1.0 else field * np.float32(spacing[0])


def _percentile(values: np.ndarray, q: float) -> float:
    """numpy's default (linear) percentile, by partial sort (several times faster for one q)."""
    n = values.size
    pos = q / 100.0 * (n - 1)
    lo, hi = int(np.floor(pos)), int(np.ceil(pos))
    part = np.partition(values, (lo, hi)) if hi != lo else np.partition(values, lo)
    return float(part[lo] + (part[hi] - part[lo]) * (pos - lo))


def surface_distances(a: np.ndarray, b: np.ndarray, spacing: tuple[float, float] = (1.0, 1.0)
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Directed distances (d(A→B) per surface pixel of A, d(B→A) per surface pixel of B); both masks non-empty."""
    box = _crop([a, b])
    if box is None or not np.any(a) or not np.any(b):
        raise ValueError("surface distances need two non-empty masks")
    sa, sb = surface(np.asarray(a, bool)[box]), surface(np.asarray(b, bool)[box])
    return _distance_to(sb, spacing)[sa], _distance_to(sa, spacing)[sb]


def hausdorff(a: np.ndarray, b: np.ndarray, spacing: tuple[float, float] = (1.0, 1.0),
              percentile: float = 95.0) -> float | None:
    """Symmetric percentile Hausdorff distance (HD95 by default, 100 = classical); None if a mask is empty."""
    if not np.any(a) or not np.any(b):
        return None
    d_ab, d_ba = surface_distances(a, b, spacing)
    return max(_percentile(d_ab, percentile), _percentile(d_ba, percentile))


def reader_pairs(masks: Mapping[str, np.ndarray], spacing: tuple[float, float] | None = None
                 ) -> dict[tuple[str, str], PairMetrics]:
    """:class:`PairMetrics` of every pair of readers (sorted names) from ``{reader: (H, W) bool}``.

    One distance transform per reader on the shared crop serves all of its
    pairs.  Pairs whose masks are both empty are left out.
    """
    names = sorted(masks)
    box = _crop(list(masks.values()))
    out: dict[tuple[str, str], PairMetrics] = {}
    if box is None:
        return out
    crops = {n: np.asarray(masks[n], bool)[box] for n in names}
    areas = {n: int(np.count_nonzero(crops[n])) for n in names}
    surfaces = {n: surface(crops[n]) for n in names if areas[n]}
    fields = {n: _distance_to(s, (1.0, 1.0)) for n, s in surfaces.items()}
    # Isotropic pixels: distances in mm are those in pixels times the spacing, exactly.
    isotropic = spacing is None or float(spacing[0]) == float(spacing[1])
    fields_mm = {} if isotropic else {n: _distance_to(s, tuple(spacing)) for n, s in surfaces.items()}
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            if areas[x] + areas[y] == 0:
                continue
            inter = int(np.count_nonzero(crops[x] & crops[y]))
            d = 2.0 * inter / (areas[x] + areas[y])
            j = inter / (areas[x] + areas[y] - inter)
            hd = hd_mm = None
            if areas[x] and areas[y]:
                hd = _symmetric95(fields, surfaces, x, y)
                if spacing is not None:
                    hd_mm = _symmetric95(fields_mm, surfaces, x, y) if fields_mm else hd * float(spacing[0])
            out[(x, y)] = PairMetrics(d, j, hd, hd_mm, areas[x], areas[y])
    return out


def _symmetric95(fields: dict, surfaces: dict, x: str, y: str) -> float:
    return max(_percentile(fields[y][surfaces[x]], 95.0), _percentile(fields[x][surfaces[y]], 95.0))


def pair_metrics(a: np.ndarray, b: np.ndarray, spacing: tuple[float, float] | None = None) -> PairMetrics:
    """Dice, IoU, HD95 (pixels, and mm with ``spacing`` (row, col)) of two (H, W) masks."""
    pairs = reader_pairs({"a": a, "b": b}, spacing)
    if not pairs:
        return PairMetrics(float("nan"), float("nan"), None, None, 0, 0)
    return pairs[("a", "b")]
