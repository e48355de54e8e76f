"""sklearn's bundled 8x8 handwritten digits (1797 images), up-sampled for CNNs. Offline."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.datasets.base import SPLITS, ImageDataset, stratified_split
from core.errors import ConfigError

__all__ = ["load_digits", "DIGITS_FRACTIONS"]

#: train / val / test fractions of the fixed stratified split.
DIGITS_FRACTIONS = (0.6, 0.2, 0.2)


def load_digits(split: str = "train", image_size: int = 32, split_seed: int = 0) -> ImageDataset:
    """Digits as (1, image_size, image_size) in [0, 1]; stratified 60/20/20 split fixed by ``split_seed``.

    The 0..16 grey levels are scaled to [0, 1] and up-sampled bicubically
    (clamped back to [0, 1]).
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    labels = bunch.target
    indices = stratified_split(labels, DIGITS_FRACTIONS, split_seed)[SPLITS.index(split)]
    images = torch.from_numpy(bunch.images[indices]).float().unsqueeze(1) / 16.0
    if image_size != 8:
        images = F.interpolate(images, size=(image_size, image_size), mode="bicubic", align_corners=False)
    images = images.clamp_(0.0, 1.0)
    return ImageDataset("digits", split, images, torch.from_numpy(labels[indices]),
                        [str(d) for d in range(10)], indices=indices, split_seed=split_seed)
