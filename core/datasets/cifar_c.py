"""CIFAR-10-C: ``<corruption>.npy`` (N x 32 x 32 x 3 uint8, 5 severities stacked) + ``labels.npy``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.datasets.base import ImageDataset
from core.errors import ConfigError, LoadError

__all__ = ["CIFAR10C_CORRUPTIONS", "load_cifar10_c", "cifar10_c_available"]

CIFAR10C_CORRUPTIONS: tuple[str, ...] = (
    "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "defocus_blur", "glass_blur",
    "motion_blur", "zoom_blur", "gaussian_blur", "snow", "frost", "fog", "brightness", "contrast",
    "elastic_transform", "pixelate", "jpeg_compression", "spatter", "saturate",
)

_CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _load_npy(path: Path) -> np.ndarray:
    if not path.is_file():
        raise LoadError(f"CIFAR-10-C file missing: {path}")
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError) as exc:
        raise LoadError(f"{path.name} is not a readable .npy array ({exc})") from None


def cifar10_c_available(root: str | Path) -> list[str]:
    """Corruption names whose ``.npy`` file exists under ``root`` (labels.npy required)."""
    root = Path(root)
    if not (root / "labels.npy").is_file():
        return []
    return [c for c in CIFAR10C_CORRUPTIONS if (root / f"{c}.npy").is_file()]


def load_cifar10_c(root: str | Path, corruption: str, severity: int) -> ImageDataset:
    """Rows [(s-1)·N/5 : s·N/5] of ``<corruption>.npy`` (N = 50000 for the real files) as a dataset.

    x (3, 32, 32) float in [0, 1]; raises :class:`LoadError` naming the problem
    for missing, mis-shaped or mismatched files.
    """
    if not 1 <= int(severity) <= 5:
        raise ConfigError(f"severity must be 1..5, got {severity}")
    if not corruption.replace("_", "").isalnum():
        raise ConfigError(f"invalid corruption name {corruption!r}")
    root = Path(root).expanduser()
    images = _load_npy(root / f"{corruption}.npy")
    labels = _load_npy(root / "labels.npy")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise LoadError(f"{corruption}.npy must be uint8 of shape (N, 32, 32, 3), got {images.dtype} {images.shape}")
    n = images.shape[0]
    if n == 0 or n % 5:
        raise LoadError(f"{corruption}.npy has {n} rows; expected 5 equal severity blocks")
    if labels.ndim != 1 or labels.shape[0] not in (n, n // 5):
        raise LoadError(f"labels.npy has shape {labels.shape}; expected ({n},) or ({n // 5},)")
    per = n // 5
    rows = np.arange((int(severity) - 1) * per, int(severity) * per)
    block = torch.from_numpy(np.ascontiguousarray(images[rows])).permute(0, 3, 1, 2).float().div_(255.0)
    lab = np.asarray(labels[rows] if labels.shape[0] == n else labels, dtype=np.int64)
    if lab.min() < 0 or lab.max() > 9:
        raise LoadError("labels.npy must hold CIFAR-10 labels 0..9")
    return ImageDataset(f"cifar10c/{corruption}", f"severity{int(severity)}", block, torch.from_numpy(lab),
                        list(_CIFAR10_CLASSES), indices=rows)
