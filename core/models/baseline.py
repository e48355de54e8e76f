"""``baseline``: the plain CNN of the paper (no equivariance beyond translation)."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from core.models.base import SymmetryAwareCNN
from core.models.blocks import ConvBlock, PlainTrunk
from core.models.config import ModelConfig

__all__ = ["BaselineCNN", "last_block_name"]


def last_block_name(prefix: str, trunk: nn.Sequential) -> str | None:
    """Dotted name of the last :class:`ConvBlock` in ``trunk`` (None if it has none)."""
    names = [name for name, module in trunk.named_children() if isinstance(module, ConvBlock)]
    return f"{prefix}.{names[-1]}" if names else None


class BaselineCNN(SymmetryAwareCNN):
    """3x3 Conv+BN+ReLU blocks of ``widths``, max-pools after ``pool_after``, global max-pool, fc.

    Equivariance: translation only (up to pooling strides).  With the paper
    preset this is the official 10-conv baseline (16-32-32-64-64-128-128-256-256-256).
    """

    def __init__(self, config: ModelConfig) -> None:
        trunk = PlainTrunk(config.in_channels, config.widths, config.pool_after, config.image_size)
        features = nn.Sequential(OrderedDict(trunk=trunk))
        super().__init__(config, features, trunk.out_channels, last_block_name("features.trunk", trunk))
