"""The one configuration object every architecture is built from.

A :class:`ModelConfig` is a frozen dataclass that round-trips through plain
JSON (``to_dict`` / ``from_dict``) so checkpoints can store it without pickling
Python objects.  ``widths`` and ``pool_after`` default to the chosen preset.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

from core.errors import ConfigError

__all__ = ["ModelConfig", "Preset", "PRESETS", "ARCHITECTURES"]

#: Every name :func:`core.models.build_model` accepts.
ARCHITECTURES: tuple[str, ...] = (
    "baseline",
    "parallel_rot",
    "parallel_scale",
    "parallel_rot_scale",
    "cascaded",
    "equivariant",
)


@dataclass(frozen=True)
class Preset:
    """Trunk widths (one 3x3 conv each), the conv indices followed by a 2x max-pool, and
    the number of scale-to-scale convs after the scale lifting conv in scale branches."""

    widths: tuple[int, ...]
    pool_after: tuple[int, ...]
    scale_layers: int
    description: str


PRESETS: dict[str, Preset] = {
    # Sized so each architecture trains a few digits epochs in seconds on 2 CPU cores.
    "tiny": Preset(widths=(8, 16, 16, 32, 32), pool_after=(0, 2, 4), scale_layers=0,
                   description="5 convs 8-16-16-32-32, 3 max-pools; for 32x32 digits on a CPU"),
    # The paper's / official code's widths: 10 convs, 5 max-pools, for CIFAR on a GPU.
    "paper": Preset(widths=(16, 32, 32, 64, 64, 128, 128, 256, 256, 256), pool_after=(1, 3, 5, 7, 9),
                    scale_layers=1, description="10 convs 16-32-32-64-64-128-128-256-256-256, 5 max-pools (paper)"),
}


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model (weights excepted).

    Inputs are pixels in [0, 1]; ``mean``/``std`` are applied inside the model.
    ``rotation_order`` is N of the cyclic group C_N used by rotation layers
    (only cyclic groups: e2cnn 0.2.3's dihedral groups crash under numpy 2).
    ``n_scales`` scales sigma_s = ``scale_sigma0`` * ``scale_step`` ** s are used
    by the scale-equivariant branch, with a ``scale_kernel`` x ``scale_kernel``
    Hermite-Gaussian basis of ``scale_basis_size`` ** 2 functions; the branch
    has a lifting conv and ``scale_layers`` scale-to-scale convs.
    """

    arch: str
    preset: str = "tiny"
    in_channels: int = 1
    num_classes: int = 10
    image_size: int = 32
    rotation_order: int = 4
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    widths: tuple[int, ...] | None = None
    pool_after: tuple[int, ...] | None = None
    n_scales: int = 3
    scale_step: float = 2 ** 0.5
    scale_sigma0: float = 0.7
    scale_kernel: int = 9
    scale_basis_size: int = 3
    scale_layers: int | None = None

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ConfigError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        if self.preset not in PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        preset = PRESETS[self.preset]
        # Frozen dataclass: normalise sequences to tuples so equality and hashing behave.
        object.__setattr__(self, "widths", tuple(int(w) for w in (self.widths or preset.widths)))
        pool_after = preset.pool_after if self.pool_after is None else self.pool_after
        object.__setattr__(self, "pool_after", tuple(int(p) for p in pool_after))
        if self.scale_layers is None:
            object.__setattr__(self, "scale_layers", preset.scale_layers)
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        if self.in_channels < 1 or self.num_classes < 2 or self.image_size < 4:
            raise ConfigError("in_channels must be >= 1, num_classes >= 2 and image_size >= 4")
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise ConfigError(f"mean and std need {self.in_channels} values (one per input channel), "
                              f"got {len(self.mean)} and {len(self.std)}")
        if any(s <= 0 for s in self.std):
            raise ConfigError("std values must be positive")
        if not self.widths or any(w < 1 for w in self.widths):
            raise ConfigError("widths must be a non-empty list of positive integers")
        if any(p < 0 or p >= len(self.widths) for p in self.pool_after):
            raise ConfigError(f"pool_after indices must lie in 0..{len(self.widths) - 1}")
        if self.rotation_order < 2:
            raise ConfigError("rotation_order must be >= 2 (the cyclic group C_N)")
        if self.n_scales < 1 or self.scale_step <= 1.0 or self.scale_sigma0 <= 0:
            raise ConfigError("n_scales must be >= 1, scale_step > 1 and scale_sigma0 > 0")
        if self.scale_layers < 0:
            raise ConfigError("scale_layers must be >= 0")
        if self.scale_kernel % 2 == 0 or self.scale_basis_size < 1 or self.scale_basis_size > self.scale_kernel:
            raise ConfigError("scale_kernel must be odd and scale_basis_size in 1..scale_kernel")

    def rotation_fields(self, width: int) -> int:
        """Regular C_N fields standing in for a plain layer of ``width`` channels.

        width / sqrt(N), at least 1: keeps the parameter count near the plain
        layer's (e2cnn's convention); the layer then has fields * N channels.
        """
        return max(1, round(width / math.sqrt(self.rotation_order)))

    def replace(self, **changes: Any) -> "ModelConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (tuples become lists)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        data = dict(data)
        if data.get("extra") == {}:
            del data["extra"]  # written by early versions; always empty
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model config keys: {', '.join(unknown)}")
        if "arch" not in data:
            raise ConfigError("model config has no 'arch'")
        kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()}
        return cls(**kwargs)
