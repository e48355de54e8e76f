"""Few-shot results for the studio: finished runs, their metrics, and a Grad-CAM vs ROI gallery.

A studio run is a folder ``<workspace>/reports/fewshot/<run>/<guidance>/``
holding ``checkpoint.pt`` and ``metrics.json`` (written by ``python -m core
fewshot``); guided and unguided runs of one ``<run>`` share the data split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.workspace import Workspace

__all__ = ["FewShotRun", "list_runs", "runs_by_name", "GalleryItem", "cam_gallery"]


@dataclass
class FewShotRun:
    """One finished run: where it is and what ``metrics.json`` says."""

    name: str
    guidance: str
    folder: Path
    metrics: dict[str, Any] = field(repr=False)

    @property
    def accuracy(self) -> tuple[float, float]:
        """(mean, 95% CI half-width) of episodic test accuracy, as fractions."""
        acc = self.metrics["accuracy"]
        return float(acc["mean"]), float(acc["ci95"])

    @property
    def dice(self) -> tuple[float, float] | None:
        """(mean, 95% CI) CAM-ROI soft Dice with the Grad-CAM target :attr:`alignment_target`."""
        dice = self.metrics.get("alignment", {}).get("dice")
        return None if not dice else (float(dice["mean"]), float(dice["ci95"]))

    @property
    def alignment_target(self) -> str:
        """The Grad-CAM target of :attr:`dice` (older runs: the training target, which came first)."""
        return self.metrics.get("alignment_target") or self.metrics["config"]["train"].get("cam_score", "distance")

    @property
    def seeds(self) -> dict[str, int]:
        """``{"data", "train", "eval"}`` seeds (older runs drew their data with the training seed)."""
        if "seeds" in self.metrics:
            return dict(self.metrics["seeds"])
        train = self.metrics["config"]["train"]["seed"]
        return {"data": train, "train": train, "eval": 1000 + train}


def list_runs(workspace: Workspace) -> list[FewShotRun]:
    """Every run folder with a readable ``metrics.json``, newest first."""
    root = workspace.reports / "fewshot"
    runs = []
    for metrics_path in root.glob("*/*/metrics.json"):
        try:
            metrics = json.loads(metrics_path.read_text())
        except (OSError, ValueError):
            continue  # a run still being written or damaged; the jobs table reports it
        folder = metrics_path.parent
        runs.append(FewShotRun(folder.parent.name, folder.name, folder, metrics))
    runs.sort(key=lambda r: (r.folder / "metrics.json").stat().st_mtime, reverse=True)
    return runs


def runs_by_name(workspace: Workspace) -> dict[str, dict[str, FewShotRun]]:
    """``{run name: {guidance: run}}`` in newest-first order."""
    out: dict[str, dict[str, FewShotRun]] = {}
    for run in list_runs(workspace):
        out.setdefault(run.name, {})[run.guidance] = run
    return out


@dataclass
class GalleryItem:
    """One test image: pixels (H, W) or (H, W, 3), ROI (H, W) bool, CAM (H, W), predicted/true class."""

    image: np.ndarray
    roi: np.ndarray
    cam: np.ndarray
    predicted: str
    true: str
    dice: float


def _run_config(metrics: dict):
    from core.fewshot import RunConfig
    from core.fewshot import TrainConfig as FewShotTrainConfig

    cfg = dict(metrics["config"])
    train = FewShotTrainConfig(**cfg.pop("train"))
    # Runs from before separate seeds drew their data with the training seed.
    cfg.setdefault("data_seed", train.seed)
    return RunConfig(**cfg, train=train)


def cam_gallery(run: FewShotRun, workspace: Workspace | None = None, per_class: int = 2) -> list[GalleryItem]:
    """Grad-CAMs of held-out test images, explained against the run's reference prototypes.

    The same images are chosen for every run with the same data options (the
    first ``per_class`` test images of each class that have an ROI), so a
    guided and an unguided run can be compared side by side.
    """
    import torch

    from core.explain import GradCAM, cam_alignment
    from core.fewshot import PrototypeScoreTarget, load_checkpoint, load_split

    model, payload = load_checkpoint(run.folder / "checkpoint.pt")
    config = _run_config(run.metrics)
    _, test = load_split(config, workspace)
    picks: list[int] = []
    for c in range(len(test.class_names)):
        rows = [i for i in range(len(test)) if int(test.labels[i]) == c and bool(test.masks[i].any())]
        picks += rows[:per_class]
    if not picks:
        return []
    x = test.images[picks]
    y = test.labels[picks]
    prototypes = payload["prototypes"].float()
    metric = payload["model"].get("metric", "squared_euclidean")
    with torch.no_grad():
        predicted = model.logits(model(x), prototypes).argmax(1)
    with GradCAM(model, model.cam_layer) as cam:
        # Explain with the score the run was guided by (older runs: the paper's distance).
        maps = cam(x, PrototypeScoreTarget(prototypes, y, metric, config.train.cam_score)).detach()
    dice = cam_alignment(maps, test.masks[picks])["dice"]
    names = payload["class_names"]
    items = []
    for k in range(len(picks)):
        img = x[k].numpy()
        pixels = img[0] if img.shape[0] == 1 else img[:3].transpose(1, 2, 0)
        items.append(GalleryItem(pixels, test.masks[picks[k]].numpy(), maps[k].numpy(),
                                 names[int(predicted[k])], names[int(y[k])], float(dice[k])))
    return items
