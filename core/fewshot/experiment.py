"""One few-shot run end to end: data -> patient split -> training -> episodic test -> files."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from core.atomic import write_json_atomic
from core.errors import ConfigError
from core.fewshot.checkpoint import build_model, model_config, save_checkpoint
from core.fewshot.data import FewShotData, split_by_group
from core.fewshot.evaluate import evaluate_episodic
from core.fewshot.guidance import CAM_SCORES
from core.fewshot.sampler import EpisodicSampler
from core.fewshot.train import TrainConfig, train_fewshot
from core.progress import ProgressCallback

__all__ = ["DATASETS", "RunConfig", "load_split", "run_fewshot", "write_json"]

DATASETS = ("brain-phantom", "cxr-phantom", "brats", "vindr", "store")


@dataclass
class RunConfig:
    dataset: str = "brain-phantom"
    data_root: str | None = None
    backbone: str = "conv4"
    hidden: int = 64
    embed_dim: int = 64
    metric: str = "squared_euclidean"
    normalize: bool = False
    weights: str | None = None
    spurious: bool = False
    patients: int = 48
    slices: int = 4
    size: int = 64
    test_fraction: float = 0.5
    eval_episodes: int = 300
    cam_episodes: int = 50
    vindr_merge: str = "union"
    vindr_reader: str | None = None
    roi_source: str = "union"  # store dataset: whose ROIs train the guidance (core.agreement.sources)
    train: TrainConfig = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        from core.agreement import RoiSource

        if self.train is None:
            self.train = TrainConfig()
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        self.roi_source = str(RoiSource.parse(self.roi_source))
        if self.roi_source != "union" and self.dataset != "store":
            raise ConfigError("--roi-source applies to the store dataset (VinDr readers: --vindr-merge)")


def write_json(path: Path, obj) -> None:
    """Atomic JSON write."""
    write_json_atomic(path, obj)


def load_split(config: RunConfig, workspace=None) -> tuple[FewShotData, FewShotData]:
    """(train, test) with disjoint patients.

    Phantoms: the two sets are generated separately (different seeds and id
    prefixes); with ``spurious`` the corner marker follows the class in the
    training patients and is random in the test patients.  Real data: one load,
    then :func:`split_by_group` by patient/study.
    """
    seed = config.train.seed
    if config.dataset in ("brain-phantom", "cxr-phantom"):
        from core.fewshot.datasets.phantom_brain import brain_phantom
        from core.fewshot.datasets.phantom_cxr import cxr_phantom

        make = brain_phantom if config.dataset == "brain-phantom" else cxr_phantom
        n_test = max(3, int(round(config.patients * config.test_fraction)))
        n_train = max(3, config.patients - n_test)
        train = make(n_train, config.slices, config.size, seed=10_000 + seed,
                     cue="class" if config.spurious else "none", patient_prefix="train")
        test = make(n_test, config.slices, config.size, seed=20_000 + seed,
                    cue="random" if config.spurious else "none", patient_prefix="test")
        return train, test
    if config.spurious:
        raise ConfigError("--spurious only applies to the phantom datasets")
    if config.dataset == "store":
        from core.fewshot.datasets.store import store_dataset

        if workspace is None:
            raise ConfigError("the store dataset needs a workspace")
        data = store_dataset(workspace, size=config.size, roi_source=config.roi_source)
    else:
        if not config.data_root:
            raise ConfigError(f"--data-root is required for the {config.dataset} dataset")
        if config.dataset == "brats":
            from core.fewshot.datasets.brats import load_brats

            data = load_brats(config.data_root, size=config.size)
        else:
            from core.fewshot.datasets.vindr import load_vindr

            data = load_vindr(config.data_root, size=config.size, merge=config.vindr_merge,
                              reader=config.vindr_reader)
    return split_by_group(data, config.test_fraction, seed)


def run_fewshot(config: RunConfig, out_dir: str | Path, progress: ProgressCallback | None = None,
                workspace=None, eval_seed: int = 1000) -> dict:
    """Train + evaluate; writes ``checkpoint.pt`` and ``metrics.json`` into ``out_dir``.

    Returns the metrics dict (also the JSON content).
    """
    out = Path(out_dir)
    train, test = load_split(config, workspace)
    overlap = train.patients() & test.patients()
    if overlap:
        raise AssertionError(f"train/test patient overlap: {sorted(overlap)[:3]}")
    torch.manual_seed(config.train.seed)
    cfg = {"backbone": config.backbone, "in_channels": train.in_channels, "hidden": config.hidden,
           "embed_dim": config.embed_dim, "metric": config.metric, "normalize": config.normalize}
    model = build_model(cfg, config.weights)
    trained = train_fewshot(model, train, config.train, progress)
    metrics = evaluate_episodic(model, test, config.train.way, config.train.shot, config.train.query,
                                episodes=config.eval_episodes, seed=eval_seed + config.train.seed,
                                cam_episodes=config.cam_episodes, progress=progress,
                                cam_scores=[config.train.cam_score] + [c for c in CAM_SCORES if c != config.train.cam_score])
    # The checkpoint's reference support set: one seeded episode of training images.
    ref = EpisodicSampler(train.labels, config.train.way, config.train.shot, 1, seed=config.train.seed).sample()
    support_labels = train.labels[ref.support]
    result = {
        "config": {**{k: v for k, v in asdict(config).items() if k != "train"}, "train": asdict(config.train)},
        "data": {"train_images": len(train), "test_images": len(test),
                 "train_patients": len(train.patients()), "test_patients": len(test.patients()),
                 "class_names": train.class_names, "train_counts": train.class_counts(),
                 "test_counts": test.class_counts(), "synthetic": bool(train.meta.get("synthetic", False))},
        "train_seconds": trained.seconds,
        "final_train_loss": trained.history[-1]["loss"] if trained.history else None,
        **metrics,
    }
    save_checkpoint(out / "checkpoint.pt", model, model_config(model, train.in_channels, config.hidden, config.backbone),
                    train.images[ref.support], support_labels, train.class_names,
                    extra={"dataset": config.dataset, "roi_source": config.roi_source, "guidance": config.train.guidance,
                           "cam_score": config.train.cam_score, "first_order": config.train.first_order})
    write_json(out / "metrics.json", result)
    return result
