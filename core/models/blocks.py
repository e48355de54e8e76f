"""Plain building blocks shared by every architecture.

The spatial pooling rule here is what keeps C4 equivariance exact: a 90 degree
rotation of an H x H grid maps the grid onto itself about its centre, so a
pooling window layout commutes with it only if the layout is symmetric about
that centre.  Even sizes use 2x2/stride 2 (windows tile the grid exactly);
odd sizes use 3x3/stride 2/padding 1 (window centres 0, 2, ..., H-1 are
symmetric because H-1 is even).  ``MaxPool2d(2)`` on an odd grid would drop
the last row/column and break the symmetry.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Normalize", "ConvBlock", "pool_params", "pooled_size", "make_pool", "PlainTrunk", "ClassifierHead"]


class Normalize(nn.Module):
    """(x - mean) / std per channel; x: (B, C, H, W) pixels in [0, 1]."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class ConvBlock(nn.Sequential):
    """Conv(k x k, 'same' padding) + BatchNorm + ReLU: (B, C_in, H, W) -> (B, C_out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def pool_params(size: int) -> tuple[int, int, int]:
    """(kernel, stride, padding) of a 2x down-sampling max-pool that is symmetric on a ``size`` grid."""
    return (2, 2, 0) if size % 2 == 0 else (3, 2, 1)


def pooled_size(size: int) -> int:
    kernel, stride, padding = pool_params(size)
    return (size + 2 * padding - kernel) // stride + 1


def make_pool(size: int) -> nn.Module:
    """A centre-symmetric 2x max-pool for a ``size`` x ``size`` input (identity once size is 1)."""
    if size <= 1:
        return nn.Identity()
    kernel, stride, padding = pool_params(size)
    return nn.MaxPool2d(kernel, stride, padding)


class PlainTrunk(nn.Sequential):
    """Standard 3x3 ConvBlocks with centre-symmetric max-pools after the listed indices.

    (B, in_channels, H, H) -> (B, widths[-1], H', H'); ``out_size`` is H'.
    """

    def __init__(self, in_channels: int, widths: tuple[int, ...], pool_after: tuple[int, ...],
                 size: int, first_index: int = 0) -> None:
        layers: list[nn.Module] = []
        channels = in_channels
        for offset, width in enumerate(widths):
            layers.append(ConvBlock(channels, width))
            channels = width
            if first_index + offset in pool_after and size > 1:
                layers.append(make_pool(size))
                size = pooled_size(size)
        super().__init__(*layers)
        self.out_channels = channels
        self.out_size = size


class ClassifierHead(nn.Module):
    """Global spatial max-pool + linear layer: (B, C, H, W) -> logits (B, num_classes)."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.amax(x, dim=(2, 3)))
