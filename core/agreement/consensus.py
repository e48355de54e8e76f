"""Consensus masks from several readers: union, majority vote and STAPLE.

STAPLE (Warfield, Zou & Wells, IEEE TMI 2004) is SimpleITK's
``STAPLEImageFilter``: EM over the unknown true mask with one sensitivity
p_r and specificity q_r per reader, a fixed prior equal to the readers' mean
foreground fraction, p and q starting at 0.99999.  ``tests/test_agreement.py``
checks it against an independent EM written from the paper's equations and
against a hand-derived fixed point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from core.errors import ConfigError

__all__ = ["StapleResult", "union_mask", "majority_mask", "staple"]


@dataclass(frozen=True)
class StapleResult:
    """``probability`` (H, W) of the true mask; ``mask`` = probability ≥ 0.5; per-reader p and q."""

    probability: np.ndarray
    mask: np.ndarray
    sensitivity: dict[str, float]
    specificity: dict[str, float]
    iterations: int


def _stack(masks: Sequence[np.ndarray]) -> np.ndarray:
    if not len(masks):
        raise ConfigError("a consensus needs at least one reader's mask")
    arrays = [np.asarray(m, bool) for m in masks]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 2:
        raise ConfigError(f"readers' masks must share one (H, W) shape, got {sorted({a.shape for a in arrays})}")
    return np.stack(arrays)


def union_mask(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Pixels any reader marked: (H, W) bool."""
    return _stack(masks).any(0)


def majority_mask(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Pixels more than half of the readers marked (strict majority: 2 of 2, 2 of 3, 3 of 4): (H, W) bool."""
    stack = _stack(masks)
    return stack.sum(0) * 2 > stack.shape[0]


def staple(masks: Mapping[str, np.ndarray], max_iterations: int = 200) -> StapleResult:
    """STAPLE of ``{reader: (H, W) bool}`` with SimpleITK; one reader gives their own mask back."""
    import SimpleITK as sitk

    names = sorted(masks)
    stack = _stack([masks[n] for n in names])
    if len(names) == 1 or not stack.any() or stack.all():
        # Degenerate inputs (one reader, nothing or everything marked): the EM has nothing to weigh.
        prob = stack.mean(0)
        return StapleResult(prob, prob >= 0.5, {n: 1.0 for n in names}, {n: 1.0 for n in names}, 0)
    images = [sitk.GetImageFromArray(layer.astype(np.uint8)) for layer in stack]
    flt = sitk.STAPLEImageFilter()
    flt.SetForegroundValue(1.0)
    flt.SetMaximumIterations(int(max_iterations))
    prob = sitk.GetArrayFromImage(flt.Execute(images)).astype(np.float64)
    return StapleResult(prob, prob >= 0.5, dict(zip(names, flt.GetSensitivity())),
                        dict(zip(names, flt.GetSpecificity())), int(flt.GetElapsedIterations()))
