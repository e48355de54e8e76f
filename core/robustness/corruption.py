"""Accuracy per corruption × severity, never pooled over severities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from torch import Tensor, nn

from core.errors import ConfigError
from core.progress import ProgressCallback, ProgressEvent
from core.robustness.curves import accuracy

__all__ = ["CorruptionResult", "corruption_accuracy"]

CorruptFn = Callable[..., Tensor]


@dataclass
class CorruptionResult:
    """``table[name][severity]`` accuracy in ``[0, 1]``.

    ``per_corruption[name]`` averages a corruption's severities (each severity
    has the same number of images, so this is an unweighted mean of cells);
    ``mean`` averages every cell.  Both are derived from, and reported next
    to, the full table.
    """

    table: dict[str, dict[int, float]]
    severities: list[int]

    @property
    def per_corruption(self) -> dict[str, float]:
        return {name: float(np.mean(list(row.values()))) for name, row in self.table.items()}

    @property
    def per_severity(self) -> dict[int, float]:
        return {s: float(np.mean([row[s] for row in self.table.values()])) for s in self.severities}

    @property
    def mean(self) -> float:
        return float(np.mean([v for row in self.table.values() for v in row.values()]))

    def to_dict(self) -> dict:
        return {
            "table": {name: {str(s): acc for s, acc in row.items()} for name, row in self.table.items()},
            "severities": list(self.severities),
            "per_corruption": self.per_corruption,
            "per_severity": {str(s): v for s, v in self.per_severity.items()},
            "mean": self.mean,
        }


def corruption_accuracy(model: nn.Module, images: Tensor, labels: Tensor, *,
                        corruptions: Sequence[str] | None = None, severities: Sequence[int] = (1, 2, 3, 4, 5),
                        seed: int = 0, corrupt: CorruptFn | None = None, batch_size: int = 256,
                        progress: ProgressCallback | None = None) -> CorruptionResult:
    """Accuracy of ``model`` on ``corrupt(images, name, severity, seed)`` for every pair.

    Args:
        images: ``(N, C, H, W)`` clean images in ``[0, 1]``; labels ``(N,)``.
        corruptions: names from ``core.datasets.CORRUPTIONS`` (default: all).
        corrupt: the corruption function (default ``core.datasets.corrupt``).
    """
    if corrupt is None or corruptions is None:
        from core.datasets import CORRUPTIONS
        from core.datasets import corrupt as default_corrupt

        corrupt = corrupt or default_corrupt
        corruptions = list(corruptions) if corruptions is not None else list(CORRUPTIONS)
    severities = [int(s) for s in severities]
    if not corruptions or not severities:
        raise ConfigError("need at least one corruption and one severity")
    table: dict[str, dict[int, float]] = {}
    total, step = len(corruptions) * len(severities), 0
    for name in corruptions:
        table[name] = {}
        for sev in severities:
            table[name][sev] = accuracy(model, corrupt(images, name, sev, seed), labels, batch_size)
            step += 1
            if progress is not None:
                progress(ProgressEvent("corruptions", step, total, metrics={"acc": table[name][sev]},
                                       message=f"{name} s{sev}"))
    return CorruptionResult(table, severities)
