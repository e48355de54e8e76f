"""Training options as a frozen, JSON-round-trippable dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from core.errors import ConfigError

__all__ = ["TrainConfig", "OPTIMIZERS", "SCHEDULES"]

OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")
SCHEDULES: tuple[str, ...] = ("none", "cosine", "step")


@dataclass(frozen=True)
class TrainConfig:
    """Supervised training options.

    ``batch_size`` is per process (under DDP the global batch is
    ``batch_size * world_size``).  ``schedule`` is stepped once per epoch:
    ``cosine`` anneals to 0 over ``epochs``; ``step`` multiplies the lr by
    ``gamma`` every ``step_epochs`` epochs.  ``device`` is ``auto`` (cuda when
    available), ``cpu`` or ``cuda``.
    """

    epochs: int = 5
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    schedule: str = "none"
    step_epochs: int = 30
    gamma: float = 0.1
    seed: int = 0
    device: str = "auto"
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            raise ConfigError("epochs and batch sizes must be >= 1")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if not self.lr > 0 or self.weight_decay < 0 or self.step_epochs < 1:
            raise ConfigError("lr must be > 0, weight_decay >= 0 and step_epochs >= 1")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"unknown device {self.device!r}; use auto, cpu or cuda")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown train config keys: {', '.join(unknown)}")
        return cls(**dict(data))
