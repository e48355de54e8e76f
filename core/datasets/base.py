"""In-memory image classification datasets with provenance (name, split, indices)."""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from core.errors import LoadError

__all__ = ["ImageDataset", "SPLITS", "stratified_split"]

SPLITS: tuple[str, ...] = ("train", "val", "test")


class ImageDataset(Dataset):
    """(x (C, H, W) float32 in [0, 1], y int) pairs held in memory.

    ``indices`` are the rows of the source data this split holds, so a
    checkpoint can record exactly what it was trained on (``fingerprint``).
    """

    def __init__(self, name: str, split: str, images: torch.Tensor, labels: torch.Tensor,
                 classes: Sequence[str], indices: np.ndarray | None = None, split_seed: int | None = None) -> None:
        if images.dim() != 4:
            raise LoadError(f"{name}: expected images (N, C, H, W), got shape {tuple(images.shape)}")
        if images.shape[0] != labels.shape[0]:
            raise LoadError(f"{name}: {images.shape[0]} images but {labels.shape[0]} labels")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(classes)):
            raise LoadError(f"{name}: labels must lie in 0..{len(classes) - 1}")
        self.name, self.split = name, split
        self.images = images.float().contiguous()
        self.labels = labels.long()
        self.classes = list(classes)
        self.indices = np.arange(len(labels)) if indices is None else np.asarray(indices)
        self.split_seed = split_seed

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], int(self.labels[i])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    def fingerprint(self) -> str:
        """sha256 over the dataset name, split and source row indices (first 16 hex digits)."""
        digest = hashlib.sha256(f"{self.name}/{self.split}/".encode())
        digest.update(np.ascontiguousarray(self.indices, dtype=np.int64).tobytes())
        return digest.hexdigest()[:16]

    def describe(self) -> dict:
        """JSON-friendly provenance for checkpoints and reports."""
        return {"dataset": self.name, "split": self.split, "size": len(self), "split_seed": self.split_seed,
                "fingerprint": self.fingerprint()}


def stratified_split(labels: np.ndarray, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Disjoint index arrays, one per fraction, each with the label proportions of ``labels``.

    Deterministic for a given seed; each class is shuffled and cut at the
    rounded cumulative fractions, so every split gets every class.
    """
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError("split fractions must sum to 1")
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    bounds = np.cumsum([0.0, *fractions])
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        cuts = np.round(bounds * len(members)).astype(int)
        for k in range(len(fractions)):
            parts[k].append(members[cuts[k]:cuts[k + 1]])
    return [np.sort(np.concatenate(p)) for p in parts]
