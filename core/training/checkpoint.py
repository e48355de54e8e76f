"""Checkpoints: config + weights + metrics + data split + train config, in one torch file.

Everything but tensors is stored as JSON strings so the file loads with
``torch.load(weights_only=True)`` (no arbitrary unpickling); weights load
strictly.  Writes go to a temporary file that replaces the target atomically.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.atomic import write_bytes_atomic
from core.errors import EquiGuardError, LoadError
from core.models import ModelConfig, SymmetryAwareCNN, build_model
from core.training.config import TrainConfig

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "CHECKPOINT_FORMAT", "state_hash"]

CHECKPOINT_FORMAT = "equiguard-checkpoint/1"


@dataclass
class Checkpoint:
    """A loaded checkpoint; ``model`` is in eval mode on the requested device."""

    model: SymmetryAwareCNN
    config: ModelConfig
    metrics: dict[str, Any]
    split: dict[str, Any]
    train_config: TrainConfig | None
    epoch: int = 0
    path: Path | None = None
    optimizer_state: dict[str, Any] | None = field(default=None, repr=False)
    scheduler_state: dict[str, Any] | None = field(default=None, repr=False)


def state_hash(model: nn.Module) -> str:
    """sha256 over the model's state_dict (names, shapes and values), for identity checks."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_checkpoint(path: str | Path, model: SymmetryAwareCNN, metrics: dict[str, Any] | None = None,
                    split: dict[str, Any] | None = None, train_config: TrainConfig | None = None,
                    epoch: int = 0, optimizer_state: dict[str, Any] | None = None,
                    scheduler_state: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint atomically; returns the path.  ``model`` must not be exported."""
    if getattr(model, "exported", False):
        raise EquiGuardError("save the trainable model, not its export()")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model_config": json.dumps(model.config.to_dict()),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metrics": json.dumps(metrics or {}),
        "split": json.dumps(split or {}),
        "train_config": json.dumps(train_config.to_dict() if train_config else None),
        "epoch": int(epoch),
    }
    if optimizer_state is not None:
        payload["optimizer_state"] = optimizer_state
    if scheduler_state is not None:
        payload["scheduler_state"] = scheduler_state
    # Serialised in memory first: torch reports a full disk as a bare RuntimeError,
    # a plain file write as an OSError that becomes a clear StorageError.
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return write_bytes_atomic(path, buffer.getbuffer())


def _json_field(payload: dict, key: str, path: Path) -> Any:
    try:
        return json.loads(payload[key])
    except (KeyError, TypeError, json.JSONDecodeError):
        raise LoadError(f"{path.name}: checkpoint field {key!r} is missing or not valid JSON") from None


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; raises :class:`LoadError` on any mismatch."""
    path = Path(path)
    if not path.is_file():
        raise LoadError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types (zip, pickle, EOF, Runtime) for bad files
        raise LoadError(f"{path.name} is not a readable checkpoint (truncated or corrupted?): "
                        f"{type(exc).__name__}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise LoadError(f"{path.name} is not an EquiGuard checkpoint (expected format {CHECKPOINT_FORMAT})")
    try:
        config = ModelConfig.from_dict(_json_field(payload, "model_config", path))
        train_dict = _json_field(payload, "train_config", path)
        train_config = TrainConfig.from_dict(train_dict) if train_dict else None
    except LoadError:
        raise
    except EquiGuardError as exc:
        raise LoadError(f"{path.name}: invalid stored config: {exc}") from None
    state = payload.get("state_dict")
    if not isinstance(state, dict):
        raise LoadError(f"{path.name}: checkpoint has no weights")
    model = build_model(config)
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        detail = []
        if missing:
            detail.append(f"missing {len(missing)} tensors (e.g. {missing[0]})")
        if unexpected:
            detail.append(f"unexpected {len(unexpected)} tensors (e.g. {unexpected[0]})")
        raise LoadError(f"{path.name}: weights do not match architecture {config.arch!r}: {', '.join(detail)}")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise LoadError(f"{path.name}: weights do not match architecture {config.arch!r}: {lines[-1]}") from None
    model.to(device).eval()
    return Checkpoint(model=model, config=config, metrics=_json_field(payload, "metrics", path),
                      split=_json_field(payload, "split", path), train_config=train_config,
                      epoch=int(payload.get("epoch", 0)), path=path,
                      optimizer_state=payload.get("optimizer_state"),
                      scheduler_state=payload.get("scheduler_state"))
