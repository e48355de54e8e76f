"""The model registry: every classifier the workspace has, of either kind.

* ``classifier`` - a symmetry-aware CNN (``python -m core train``), any
  ``.pt``/``.pth`` under ``workspace.checkpoints``;
* ``fewshot`` - a prototypical network (``python -m core fewshot``), under
  ``checkpoints/`` too or in a studio run folder
  ``reports/fewshot/<run>/<guidance>/checkpoint.pt``.  It classifies against
  the prototypes of its stored support set
  (:class:`core.fewshot.PrototypeClassifier`).

Checkpoints carry their own config, metrics and classes, so the registry is
just a scan; nothing is kept in a separate index that could go stale.
:func:`load_model` gives either kind as the same thing: an ``nn.Module``
mapping pixels (B, C, H, W) in [0, 1] to logits (B, K), with ``cam_layer``.
``entry.spec`` says which images it can classify (:mod:`core.studio.compat`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.studio.compat import ModelSpec
from core.workspace import Workspace

__all__ = ["ModelEntry", "KINDS", "list_models", "load_model", "read_entry", "checkpoint_files",
           "CHECKPOINT_SUFFIXES"]

CHECKPOINT_SUFFIXES = (".pt", ".pth")
KINDS = ("classifier", "fewshot")


@dataclass
class ModelEntry:
    """One checkpoint as the registry lists it.

    ``config`` holds at least ``in_channels``, ``image_size`` and
    ``num_classes`` for either kind; ``arch`` is the architecture
    (``protonet/<backbone>`` for few-shot models); ``dataset`` the dataset name
    or spec it was trained on (None if unknown); ``error`` is set, and the rest
    empty, for an unreadable file.
    """

    name: str
    path: Path
    arch: str
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    modified: float = 0.0
    error: str | None = None
    kind: str = "classifier"
    class_names: list[str] = field(default_factory=list)
    dataset: str | None = None

    @property
    def accuracy(self) -> float | None:
        """Test accuracy (classifiers) or mean episodic accuracy (few-shot), if known."""
        acc = self.metrics.get("test_acc")
        if acc is None and isinstance(self.metrics.get("accuracy"), dict):
            acc = self.metrics["accuracy"].get("mean")
        return float(acc) if isinstance(acc, (int, float)) else None

    @property
    def label(self) -> str:
        acc_text = f", acc {self.accuracy:.3f}" if self.accuracy is not None else ""
        return f"{self.name} ({self.arch}{acc_text})"

    @property
    def spec(self) -> ModelSpec:
        """What images this model can classify (see :mod:`core.studio.compat`)."""
        return ModelSpec(int(self.config.get("in_channels", 1)), int(self.config.get("image_size", 32)),
                         tuple(self.class_names), self.dataset)


def _name(root: Path, path: Path) -> str:
    rel = path.relative_to(root)
    # "<run>/model.pt" is named after its run folder.
    return str(rel.parent) if rel.parent != Path(".") and rel.stem in ("model", "checkpoint", "best") \
        else str(rel.with_suffix(""))


def checkpoint_files(workspace: Workspace) -> list[Path]:
    """Checkpoint files of both kinds: under ``checkpoints/`` and the studio's few-shot run folders."""
    root = workspace.checkpoints
    found = [p for p in root.rglob("*") if p.suffix in CHECKPOINT_SUFFIXES and p.is_file()
             and not p.name.startswith(".")]
    runs = workspace.reports / "fewshot"
    if runs.is_dir():
        found += sorted(p for p in runs.glob("*/*/checkpoint.pt") if p.is_file())
    return found


def list_models(workspace: Workspace) -> list[ModelEntry]:
    """Every readable checkpoint, newest first; unreadable ones carry ``error``."""
    entries = [read_entry(path, workspace) for path in sorted(checkpoint_files(workspace))]
    entries.sort(key=lambda e: e.modified, reverse=True)
    return entries


def read_entry(path: str | Path, workspace: Workspace | None = None) -> ModelEntry:
    """The registry entry of one checkpoint file of either kind (``error`` set if it cannot be read).

    The name is the path relative to the workspace's ``checkpoints/`` (or
    ``reports/``) folder; a file elsewhere is named after its run folder.
    """
    from core.errors import EquiGuardError

    path = Path(path).resolve()
    root = path.parent.parent
    if workspace is not None and workspace.checkpoints in path.parents:
        root = workspace.checkpoints
    elif workspace is not None and workspace.reports in path.parents:
        root = workspace.reports
    name = _name(root, path)
    try:
        kind, loaded = _load_cached(path)
    except (EquiGuardError, OSError) as exc:
        return ModelEntry(name, path, "?", {}, {}, path.stat().st_mtime, str(exc))
    if kind == "fewshot":
        model, payload = loaded
        config = {**payload["model"], "in_channels": model.in_channels, "image_size": model.image_size,
                  "num_classes": model.num_classes}
        extra = payload.get("extra") or {}
        return ModelEntry(name, path, f"protonet/{config.get('backbone', '?')}", config, _run_metrics(path),
                          path.stat().st_mtime, kind="fewshot", class_names=list(model.class_names),
                          dataset=extra.get("dataset"))
    ckpt = loaded
    config = ckpt.config.to_dict()
    split = ckpt.split or {}
    dataset = split.get("dataset") or ckpt.metrics.get("dataset")
    # Checkpoints written before the split recorded its classes: digits' names are the indices.
    classes = split.get("classes") or [str(i) for i in range(ckpt.config.num_classes)]
    return ModelEntry(name, path, config.get("arch", "?"), config, dict(ckpt.metrics or {}), path.stat().st_mtime,
                      kind="classifier", class_names=[str(c) for c in classes], dataset=dataset)


def _run_metrics(path: Path) -> dict[str, Any]:
    """``metrics.json`` next to a few-shot checkpoint (what ``fewshot`` writes), without per-episode lists."""
    metrics_path = path.parent / "metrics.json"
    try:
        metrics = json.loads(metrics_path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(metrics, dict):
        return {}
    metrics.pop("episode_accuracy", None)
    return metrics


_CACHE: dict[tuple[str, float], Any] = {}


def _load_cached(path: Path) -> tuple[str, Any]:
    """("classifier", Checkpoint) or ("fewshot", (PrototypeClassifier, payload)), cached by mtime."""
    import torch

    from core.fewshot.checkpoint import FORMAT as FEWSHOT_FORMAT
    from core.training import load_checkpoint

    key = (str(path), path.stat().st_mtime)
    if key not in _CACHE:
        try:
            fmt = torch.load(path, map_location="cpu", weights_only=True).get("format")
        except Exception:  # torch raises many types for a damaged file; the loader below names it
            fmt = None
        if fmt == FEWSHOT_FORMAT:
            from core.fewshot.classifier import load_fewshot_classifier

            _CACHE[key] = ("fewshot", load_fewshot_classifier(path))
        else:
            _CACHE[key] = ("classifier", load_checkpoint(path))
    return _CACHE[key]


def load_model(entry: ModelEntry):
    """The entry's classifier for inference: its plain-PyTorch ``export()`` (same outputs, eval mode).

    Both kinds map pixels (B, C, H, W) in [0, 1] to logits (B, K) ordered like
    ``entry.class_names`` and expose ``cam_layer``.  Exported, an e2cnn layer
    is an ordinary convolution; the original would re-expand its steerable
    filters every time an attack or Grad-CAM switches it to eval mode, which
    costs more than the attack itself on a CPU.
    """
    kind, loaded = _load_cached(entry.path)
    model = loaded[0] if kind == "fewshot" else loaded.model
    return model.export()
