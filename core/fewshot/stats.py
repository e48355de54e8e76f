"""Mean with a normal-approximation 95% confidence interval (few-shot convention)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["mean_ci"]


def mean_ci(values: Sequence[float], z: float = 1.96) -> dict[str, float]:
    """``{"mean", "ci95", "std", "n"}``; ``ci95`` is the half-width z*std/sqrt(n) (0 for n < 2)."""
    arr = np.asarray(values, dtype=np.float64)
    n = int(arr.size)
    if n == 0:
        return {"mean": float("nan"), "ci95": float("nan"), "std": float("nan"), "n": 0}
    std = float(arr.std(ddof=1)) if n > 1 else 0.0
    return {"mean": float(arr.mean()), "ci95": z * std / math.sqrt(n) if n > 1 else 0.0, "std": std, "n": n}
