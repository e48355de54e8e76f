"""``cascaded``: a properly typed equivariant stage feeding the standard trunk.

The input's channels are lifted as trivial (scalar) fields by R2Conv to
F = rotation_fields(widths[0]) regular C_N fields, (the first max-pool if
pool_after contains 0, laid out symmetrically), a second R2Conv
regular -> regular (both with InnerBatchNorm + ReLU), then group pooling (max over each field's N
channels).  Unlike the official code, no plain-conv output is ever
reinterpreted as regular fields.

Equivariance: the stage's output (B, F, H', W') is rotation-invariant
per pixel, so rotating the input by 360/N degrees rotates the stage output
maps with the channels unchanged (exact for N = 4 and 90 degrees).  The
trunk widths[1:] that follows is ordinary.
"""

from __future__ import annotations

from collections import OrderedDict

from e2cnn import nn as enn
from torch import nn

from core.models.base import SymmetryAwareCNN
from core.models.baseline import last_block_name
from core.models.blocks import PlainTrunk, pooled_size
from core.models.config import ModelConfig
from core.models.rotation import (EquivariantBlock, group_pool, regular_type, rotation_conv_block,
                                  rotation_gspace, rotation_pool, trivial_type)

__all__ = ["cascaded_stage", "CascadedCNN"]


def cascaded_stage(in_channels: int, fields: int, order: int, pool_size: int | None = None) -> EquivariantBlock:
    """(B, C_in, H, W) -> (B, fields, H', W'): lift, [pool for a ``pool_size`` grid], regular->regular, group pool."""
    gspace = rotation_gspace(order)
    layers = rotation_conv_block(trivial_type(gspace, in_channels), fields)
    regular = regular_type(gspace, fields)
    if pool_size is not None:
        layers.append(rotation_pool(regular, pool_size)[0])
    layers += rotation_conv_block(regular, fields)
    return EquivariantBlock(enn.SequentialModule(*layers, group_pool(regular)))


class CascadedCNN(SymmetryAwareCNN):
    """Equivariant stage (see module docstring) + standard trunk + global max-pool + fc."""

    def __init__(self, config: ModelConfig) -> None:
        fields = config.rotation_fields(config.widths[0])
        size = config.image_size
        pool_size = size if 0 in config.pool_after else None
        stage = cascaded_stage(config.in_channels, fields, config.rotation_order, pool_size)
        if pool_size is not None:
            size = pooled_size(size)
        trunk = PlainTrunk(fields, config.widths[1:], config.pool_after, size, first_index=1)
        features = nn.Sequential(OrderedDict(stage=stage, trunk=trunk))
        cam = last_block_name("features.trunk", trunk) or "features.stage"
        super().__init__(config, features, trunk.out_channels if len(trunk) else fields, cam)
