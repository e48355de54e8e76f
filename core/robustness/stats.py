"""Mean and Student-t 95% confidence intervals over independent repeats (seeds)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["MeanCI", "t_interval", "mean_ci_over_seeds"]


@dataclass(frozen=True)
class MeanCI:
    """``mean ± half_width`` over ``n`` repeats; ``half_width`` is NaN when ``n < 2``."""

    mean: float
    half_width: float
    n: int
    level: float = 0.95

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def to_dict(self) -> dict[str, float | int | None]:
        hw = None if math.isnan(self.half_width) else self.half_width
        return {"mean": self.mean, "ci95": hw, "n": self.n}

    def format(self, scale: float = 100.0, digits: int = 1) -> str:
        """``"93.1 ± 1.2"`` (``scale=100`` turns fractions into percent)."""
        if math.isnan(self.half_width):
            return f"{self.mean * scale:.{digits}f}"
        return f"{self.mean * scale:.{digits}f} ± {self.half_width * scale:.{digits}f}"


def t_interval(values: Sequence[float], level: float = 0.95) -> MeanCI:
    """Two-sided Student-t interval for the mean of i.i.d. ``values`` (one per seed)."""
    from scipy.stats import t as student_t

    x = np.asarray(values, dtype=np.float64).reshape(-1)
    n = int(x.size)
    if n == 0:
        return MeanCI(float("nan"), float("nan"), 0, level)
    mean = float(x.mean())
    if n < 2:
        return MeanCI(mean, float("nan"), n, level)
    sem = float(x.std(ddof=1)) / math.sqrt(n)
    return MeanCI(mean, float(student_t.ppf(0.5 + level / 2, n - 1)) * sem, n, level)


def mean_ci_over_seeds(per_seed: np.ndarray, level: float = 0.95) -> list[MeanCI]:
    """Column-wise :func:`t_interval` of ``per_seed (S, E)`` -> E intervals over the S seeds."""
    arr = np.asarray(per_seed, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    return [t_interval(arr[:, e], level) for e in range(arr.shape[1])]
