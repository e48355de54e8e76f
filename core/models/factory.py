"""``build_model``: ModelConfig -> the architecture's nn.Module."""

from __future__ import annotations

from core.errors import ConfigError
from core.models.base import SymmetryAwareCNN
from core.models.baseline import BaselineCNN
from core.models.cascaded import CascadedCNN
from core.models.config import ARCHITECTURES, ModelConfig
from core.models.equivariant import EquivariantCNN
from core.models.parallel import ParallelCNN

__all__ = ["build_model", "MODEL_CLASSES"]

MODEL_CLASSES: dict[str, type[SymmetryAwareCNN]] = {
    "baseline": BaselineCNN,
    "parallel_rot": ParallelCNN,
    "parallel_scale": ParallelCNN,
    "parallel_rot_scale": ParallelCNN,
    "cascaded": CascadedCNN,
    "equivariant": EquivariantCNN,
}
assert set(MODEL_CLASSES) == set(ARCHITECTURES)


def build_model(config: ModelConfig) -> SymmetryAwareCNN:
    """A freshly initialised model for ``config`` (train mode).

    Input (B, in_channels, H, W) pixels in [0, 1]; output logits (B, num_classes).
    """
    if not isinstance(config, ModelConfig):
        raise ConfigError("build_model needs a core.models.ModelConfig")
    return MODEL_CLASSES[config.arch](config)
