"""The model wrapper every architecture shares: normalisation, export, Grad-CAM layer.

Subclasses only build ``features`` (B, C, H, W) -> (B, D, h, w) and name the
layer Grad-CAM should hook; this class owns the housekeeping.
"""

from __future__ import annotations

import copy
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from core.errors import ConfigError
from core.models.blocks import ClassifierHead, Normalize
from core.models.config import ModelConfig

__all__ = ["SymmetryAwareCNN", "Exportable", "export_module"]


@runtime_checkable
class Exportable(Protocol):
    """A module with an ``export()`` returning an equivalent plain-PyTorch eval module."""

    def export(self) -> nn.Module: ...


def export_module(module: nn.Module) -> nn.Module:
    """Replace, in place and top-down, every exportable child by its ``export()``."""
    for name, child in list(module.named_children()):
        if isinstance(child, Exportable) and not isinstance(child, SymmetryAwareCNN):
            setattr(module, name, child.export())
        else:
            export_module(child)
    return module


class SymmetryAwareCNN(nn.Module):
    """x (B, C, H, W) pixels in [0, 1] -> logits (B, num_classes).

    ``normalize`` applies the config's mean/std, ``features`` is the
    architecture-specific part, ``head`` is a global spatial max-pool and a
    linear layer.  ``cam_layer`` is the module Grad-CAM hooks by default (the
    last spatial feature block); it is looked up by name so it survives
    :meth:`export`.
    """

    def __init__(self, config: ModelConfig, features: nn.Module, feature_channels: int,
                 cam_layer_name: str) -> None:
        super().__init__()
        self.config = config
        self.normalize = Normalize(config.mean, config.std)
        self.features = features
        self.head = ClassifierHead(feature_channels, config.num_classes)
        self._cam_layer_name = cam_layer_name
        self.exported = False
        self.get_submodule(cam_layer_name)  # fail at construction, not at explanation time

    @property
    def cam_layer(self) -> nn.Module:
        return self.get_submodule(self._cam_layer_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.config.in_channels:
            raise ConfigError(f"expected input (B, {self.config.in_channels}, H, W), got {tuple(x.shape)}")
        return self.head(self.features(self.normalize(x)))

    def export(self) -> "SymmetryAwareCNN":
        """An eval-mode copy made of plain PyTorch modules only, with the same outputs.

        e2cnn blocks become their ``export()`` (Conv2d/BatchNorm2d/...), scale
        convolutions become a single conv2d with the filters of all scales
        expanded once.  The copy is for inference (and gradients w.r.t. the
        input); do not train it: exported BatchNorm no longer ties statistics
        across a field's group channels.
        """
        clone = copy.deepcopy(self).eval()
        export_module(clone)
        clone.exported = True
        return clone.eval()
