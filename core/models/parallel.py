"""``parallel_rot`` / ``parallel_scale`` / ``parallel_rot_scale``: equivariant branches beside a plain conv.

The stem runs, on the same normalised input, a plain 3x3 ConvBlock (widths[0]
channels) and

- a rotation branch: R2Conv from the input's trivial fields to
  rotation_fields(widths[0]) (= widths[0] / sqrt(N)) regular C_N fields +
  InnerBatchNorm + ReLU.  Its channels are
  used *as channels* (no group pooling, so orientation information survives):
  rotating the input by 360/N degrees rotates these maps and cyclically
  shifts the N channels of each field -- exactly for N = 4 and 90 degrees.
- a scale branch: our scale-equivariant lifting conv to widths[0] channels at
  ``n_scales`` scales + BN + ReLU, ``scale_layers`` scale-to-scale convs
  (each + BN + ReLU; 0 in the tiny preset, 1 in paper), then a max over scales.
  Before the max the branch is scale-equivariant: down-scaling the input by
  ``scale_step`` shifts the scale axis by one (measured relative error ~0.13
  for the tiny branch after BN + ReLU, vs ~0.31 for the plain conv branch).
  The max over only ``n_scales`` scales is invariant just for responses that
  peak at interior scales; with 3 scales the truncated ends dominate and the
  pooled output's error is ~0.24 -- better than a plain conv, far from exact.

The branch outputs are concatenated and fused by a 1x1 ConvBlock back to
widths[0] channels, followed by the standard trunk widths[1:].  Only the
branches are equivariant; the fusion conv and trunk are ordinary layers.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from e2cnn import nn as enn
from torch import nn

from core.models.base import SymmetryAwareCNN
from core.models.baseline import last_block_name
from core.models.blocks import ConvBlock, PlainTrunk, make_pool, pooled_size
from core.models.config import ModelConfig
from core.models.rotation import EquivariantBlock, rotation_conv_block, rotation_gspace, trivial_type
from core.models.scale import ScaleBatchNorm, ScaleConv, ScaleLift, ScaleMaxPool, scale_sigmas

__all__ = ["ScaleBranch", "rotation_branch", "ParallelStem", "ParallelCNN"]


class ScaleBranch(nn.Sequential):
    """(B, C_in, H, W) -> (B, C_out, H, W): lift to scales, ``scale_layers`` scale-to-scale convs, max over scales."""

    def __init__(self, in_channels: int, out_channels: int, config: ModelConfig) -> None:
        sigmas = scale_sigmas(config.scale_sigma0, config.scale_step, config.n_scales)
        k, nb = config.scale_kernel, config.scale_basis_size
        layers: list[nn.Module] = [ScaleLift(in_channels, out_channels, sigmas, k, nb),
                                   ScaleBatchNorm(out_channels), nn.ReLU(inplace=True)]
        for _ in range(config.scale_layers):
            # scale_size=2: each scale also sees the next coarser one.
            layers += [ScaleConv(out_channels, out_channels, sigmas, k, nb, scale_size=2),
                       ScaleBatchNorm(out_channels), nn.ReLU(inplace=True)]
        super().__init__(*layers, ScaleMaxPool())


def rotation_branch(in_channels: int, fields: int, order: int) -> EquivariantBlock:
    """(B, C_in, H, W) -> (B, fields * order, H, W) regular C_order fields."""
    gspace = rotation_gspace(order)
    return EquivariantBlock(enn.SequentialModule(*rotation_conv_block(trivial_type(gspace, in_channels), fields)))


class ParallelStem(nn.Module):
    """Plain conv beside rotation and/or scale branches; concat + 1x1 fusion: (B, C_in, H, W) -> (B, widths[0], H, W)."""

    def __init__(self, config: ModelConfig, rotation: bool, scale: bool) -> None:
        super().__init__()
        width = config.widths[0]
        branches: dict[str, nn.Module] = {"standard": ConvBlock(config.in_channels, width)}
        channels = width
        if rotation:
            fields = config.rotation_fields(width)
            branches["rotation"] = rotation_branch(config.in_channels, fields, config.rotation_order)
            channels += fields * config.rotation_order
        if scale:
            branches["scale"] = ScaleBranch(config.in_channels, width, config)
            channels += width
        self.branches = nn.ModuleDict(branches)
        self.fuse = ConvBlock(channels, width, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([branch(x) for branch in self.branches.values()], dim=1))


class ParallelCNN(SymmetryAwareCNN):
    """Parallel stem (see module docstring) + standard trunk + global max-pool + fc."""

    def __init__(self, config: ModelConfig) -> None:
        rotation = config.arch in ("parallel_rot", "parallel_rot_scale")
        scale = config.arch in ("parallel_scale", "parallel_rot_scale")
        stem = ParallelStem(config, rotation, scale)
        size = config.image_size
        pool: nn.Module = nn.Identity()
        if 0 in config.pool_after:
            pool, size = make_pool(size), pooled_size(size)
        trunk = PlainTrunk(config.widths[0], config.widths[1:], config.pool_after, size, first_index=1)
        features = nn.Sequential(OrderedDict(stem=stem, pool=pool, trunk=trunk))
        cam = last_block_name("features.trunk", trunk) or "features.stem"
        super().__init__(config, features, trunk.out_channels if len(trunk) else config.widths[0], cam)
