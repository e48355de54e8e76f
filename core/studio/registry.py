"""The model registry: every checkpoint under ``workspace.checkpoints``.

Checkpoints carry their own :class:`core.models.ModelConfig` and metrics
(``core.training``), so the registry is just a scan; nothing is kept in a
separate index that could go stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.workspace import Workspace

__all__ = ["ModelEntry", "list_models", "load_model", "checkpoint_files", "CHECKPOINT_SUFFIXES"]

CHECKPOINT_SUFFIXES = (".pt", ".pth")


@dataclass
class ModelEntry:
    """One checkpoint as the registry lists it."""

    name: str
    path: Path
    arch: str
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    modified: float = 0.0
    error: str | None = None

    @property
    def label(self) -> str:
        acc = self.metrics.get("test_acc", self.metrics.get("acc"))
        acc_text = f", acc {acc:.3f}" if isinstance(acc, (int, float)) else ""
        return f"{self.name} ({self.arch}{acc_text})"


def _name(root: Path, path: Path) -> str:
    rel = path.relative_to(root)
    # "<run>/model.pt" is named after its run folder.
    return str(rel.parent) if rel.parent != Path(".") and rel.stem in ("model", "checkpoint", "best") \
        else str(rel.with_suffix(""))


def list_models(workspace: Workspace) -> list[ModelEntry]:
    """Every readable checkpoint, newest first; unreadable ones carry ``error``."""
    from core.errors import EquiGuardError

    root = workspace.checkpoints
    entries = []
    for path in sorted(checkpoint_files(workspace)):
        try:
            ckpt = _load_cached(path)
        except (EquiGuardError, OSError) as exc:
            entries.append(ModelEntry(_name(root, path), path, "?", {}, {}, path.stat().st_mtime, str(exc)))
            continue
        config = ckpt.config.to_dict() if hasattr(ckpt.config, "to_dict") else dict(ckpt.config)
        entries.append(ModelEntry(_name(root, path), path, config.get("arch", "?"), config,
                                  dict(ckpt.metrics or {}), path.stat().st_mtime))
    entries.sort(key=lambda e: e.modified, reverse=True)
    return entries


def checkpoint_files(workspace: Workspace) -> list[Path]:
    """Classifier checkpoint files under ``workspace.checkpoints``.

    ``checkpoints/fewshot/`` is where ``python -m core fewshot`` puts its
    prototypical networks by default; those are not classifiers and are
    listed on the Few-shot page instead.
    """
    root = workspace.checkpoints
    return [p for p in root.rglob("*") if p.suffix in CHECKPOINT_SUFFIXES and p.is_file()
            and p.relative_to(root).parts[0] != "fewshot" and not p.name.startswith(".")]


_CACHE: dict[tuple[str, float], Any] = {}


def _load_cached(path: Path):
    from core.training import load_checkpoint

    key = (str(path), path.stat().st_mtime)
    if key not in _CACHE:
        _CACHE[key] = load_checkpoint(path)
    return _CACHE[key]


def load_model(entry: ModelEntry):
    """The entry's model for inference: its plain-PyTorch ``export()`` (same outputs, eval mode).

    Exported, an e2cnn layer is an ordinary convolution; the original would
    re-expand its steerable filters every time an attack or Grad-CAM switches
    it to eval mode, which costs more than the attack itself on a CPU.
    """
    ckpt = _load_cached(entry.path)
    return ckpt.model.export()
