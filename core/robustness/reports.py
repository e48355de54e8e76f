"""Shared plumbing of the robustness commands: evaluation subsets and atomic JSON reports."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from core import atomic
from core.atomic import write_text_atomic
from core.errors import ConfigError

__all__ = ["write_text_atomic", "write_json_atomic", "json_ready", "evaluation_subset"]


def json_ready(value: Any) -> Any:
    """``value`` with NaN/inf turned into ``None`` and tuples/arrays into lists (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if hasattr(value, "tolist"):
        return json_ready(value.tolist())
    return value


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Strict JSON of ``data`` made :func:`json_ready` (tensors, numpy), written atomically."""
    return atomic.write_json_atomic(path, json_ready(data))


def evaluation_subset(dataset: str, *, split: str = "test", root: str | Path | None = None,
                      split_seed: int = 0, n_images: int | None = None,
                      subset_seed: int = 0) -> tuple[Tensor, Tensor]:
    """``n_images`` of a dataset split as ``(images (N, C, H, W) in [0, 1], labels (N,))``.

    The images are a random subset drawn with ``subset_seed`` (the split files
    are sorted by source index, often by class), so every command and model
    evaluated with the same seeds sees the same images.
    """
    from core.datasets import load_dataset

    data = load_dataset(dataset, split, root=root, split_seed=split_seed)
    n = len(data) if n_images is None else int(n_images)
    if n < 1:
        raise ConfigError(f"--n-images must be >= 1, got {n}")
    n = min(n, len(data))
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(int(subset_seed)))[:n]
    return data.images[order].clone(), data.labels[order].clone().to(torch.long)
