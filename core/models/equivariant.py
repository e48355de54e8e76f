"""``equivariant``: a fully rotation-equivariant CNN with invariant logits.

Every conv is an R2Conv between regular C_N fields (rotation_fields(width)
fields, i.e. about width * sqrt(N) channels) with InnerBatchNorm + ReLU;
pools are pointwise max-pools laid out symmetrically on the grid (see
``core.models.blocks``).  The last block is followed by group pooling, and the
head's global spatial max-pool makes the features -- hence the logits --
invariant: exactly to 90 degree rotations for N = 4 (and N = 8, whose
90 degree elements map the pixel grid onto itself), approximately to the
other 360/N rotations (interpolation of the filters on a pixel grid).
"""

from __future__ import annotations

from collections import OrderedDict

from e2cnn import nn as enn
from torch import nn

from core.models.base import SymmetryAwareCNN
from core.models.config import ModelConfig
from core.models.rotation import (EquivariantBlock, group_pool, rotation_conv_block, rotation_gspace,
                                  rotation_pool, trivial_type)

__all__ = ["EquivariantCNN"]


class EquivariantCNN(SymmetryAwareCNN):
    """R2Conv blocks (features.block<i>) -> group pooling (features.invariant) -> global max-pool -> fc."""

    def __init__(self, config: ModelConfig) -> None:
        gspace = rotation_gspace(config.rotation_order)
        field_type = trivial_type(gspace, config.in_channels)
        size = config.image_size
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        for i, width in enumerate(config.widths):
            layers = rotation_conv_block(field_type, config.rotation_fields(width))
            field_type = layers[0].out_type
            if i in config.pool_after and size > 1:
                pool, size = rotation_pool(field_type, size)
                layers.append(pool)
            blocks[f"block{i}"] = EquivariantBlock(enn.SequentialModule(*layers))
        blocks["invariant"] = EquivariantBlock(group_pool(field_type))
        super().__init__(config, nn.Sequential(blocks), len(field_type),
                         f"features.block{len(config.widths) - 1}")
