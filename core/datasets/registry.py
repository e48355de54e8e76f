"""``load_dataset``: one entry point for every classification dataset."""

from __future__ import annotations

from pathlib import Path

from core.datasets.base import ImageDataset
from core.datasets.cifar import load_cifar
from core.datasets.digits import load_digits
from core.datasets.medical import MEDICAL_DATASETS, load_medical
from core.errors import ConfigError

__all__ = ["DATASETS", "load_dataset", "dataset_normalization"]

#: Names :func:`load_dataset` accepts; ``digits`` and the phantoms work offline.
#: Medical names may carry options (``brain-phantom:size=128``, see :mod:`core.datasets.medical`).
DATASETS: tuple[str, ...] = ("digits", "cifar10", "cifar100", *MEDICAL_DATASETS)


def load_dataset(name: str, split: str = "train", root: str | Path | None = None,
                 split_seed: int = 0) -> ImageDataset:
    """Dataset ``name`` / ``split`` (train|val|test); x (C, H, W) float32 in [0, 1], y int.

    ``root`` is the folder holding CIFAR batches, the BraTS / VinDr folder, or
    the workspace for ``store`` (ignored for digits and the phantoms).
    """
    if name == "digits":
        return load_digits(split, split_seed=split_seed)
    if name in ("cifar10", "cifar100"):
        return load_cifar(name, root, split, split_seed=split_seed)
    if name.partition(":")[0] in MEDICAL_DATASETS:
        return load_medical(name, split, root, split_seed=split_seed)
    raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def dataset_normalization(name: str, in_channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) the models apply inside: the paper's 0.5 / 0.5 per channel."""
    return (0.5,) * in_channels, (0.5,) * in_channels
