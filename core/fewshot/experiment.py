"""One few-shot run end to end: data -> patient split -> training -> episodic test -> files."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from core.atomic import write_json_atomic
from core.errors import ConfigError
from core.fewshot.checkpoint import build_model, model_config, save_checkpoint
from core.fewshot.data import FewShotData, split_by_group
from core.fewshot.datasets._cues import CUE_KINDS
from core.fewshot.evaluate import evaluate_episodic
from core.fewshot.guidance import CAM_SCORES
from core.fewshot.sampler import EpisodicSampler
from core.fewshot.train import TrainConfig, train_fewshot
from core.fewshot_defaults import DEFAULTS as D
from core.fewshot_defaults import DEFAULT_PRESET, parse_seed, preset
from core.progress import ProgressCallback

__all__ = ["DATASETS", "RunConfig", "load_split", "prepare_run", "run_fewshot", "write_json"]

DATASETS = ("brain-phantom", "cxr-phantom", "brats", "vindr", "store")
#: RunConfig fields whose defaults come from a preset (the training ones live in TrainConfig).
_PRESET_FIELDS = ("backbone", "hidden", "embed_dim", "size", "patients", "slices", "test_fraction", "spurious",
                  "cue_kind", "metric", "normalize", "eval_episodes", "cam_episodes", "data_seed", "eval_seed",
                  "eval_disjoint")


@dataclass
class RunConfig:
    """One few-shot run: data, model, training (``train``) and evaluation.

    Seeds: ``data_seed`` generates the phantoms / splits real data by patient,
    ``train.seed`` initialises and trains the model, ``eval_seed`` draws the
    test episodes.  ``eval_disjoint`` draws every test episode's support and
    query from different patients.  Defaults: :data:`core.fewshot_defaults.DEFAULTS`;
    :meth:`from_preset` starts from a named preset instead.
    """

    dataset: str = "brain-phantom"
    data_root: str | None = None
    backbone: str = D.backbone
    hidden: int = D.hidden
    embed_dim: int = D.embed_dim
    metric: str = D.metric
    normalize: bool = D.normalize
    weights: str | None = None
    spurious: bool = D.spurious
    patients: int = D.patients
    slices: int = D.slices
    size: int = D.size
    test_fraction: float = D.test_fraction
    eval_episodes: int = D.eval_episodes
    cam_episodes: int = D.cam_episodes
    vindr_merge: str = "union"
    vindr_reader: str | None = None
    roi_source: str = "union"  # store dataset: whose ROIs train the guidance (core.agreement.sources)
    train: TrainConfig = None  # type: ignore[assignment]
    cue_kind: str = D.cue_kind
    data_seed: int = D.data_seed
    eval_seed: int = D.eval_seed
    eval_disjoint: bool = D.eval_disjoint
    preset: str = DEFAULT_PRESET

    def __post_init__(self) -> None:
        from core.agreement import RoiSource

        if self.train is None:
            self.train = TrainConfig()
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        self.roi_source = str(RoiSource.parse(self.roi_source))
        if self.roi_source != "union" and self.dataset != "store":
            raise ConfigError("--roi-source applies to the store dataset (VinDr readers: --vindr-merge)")
        if self.cue_kind not in CUE_KINDS:
            raise ConfigError(f"unknown cue kind {self.cue_kind!r}; choose one of {', '.join(CUE_KINDS)}")
        preset(self.preset)
        self.data_seed = parse_seed(self.data_seed, "data seed")
        self.eval_seed = parse_seed(self.eval_seed, "evaluation seed")
        self.train.seed = parse_seed(self.train.seed, "training seed")

    @classmethod
    def from_preset(cls, name: str = DEFAULT_PRESET, train: dict | None = None, **overrides) -> "RunConfig":
        """The preset's values (:data:`core.fewshot_defaults.PRESETS`), then ``overrides``.

        ``train`` holds overrides of :class:`TrainConfig` fields (``seed`` is the training seed).
        """
        p = preset(name)
        values = {f: getattr(p, f) for f in _PRESET_FIELDS}
        return cls(**{**values, **overrides, "preset": name,
                      "train": TrainConfig.from_preset(name, **(train or {}))})


def write_json(path: Path, obj) -> None:
    """Atomic JSON write."""
    write_json_atomic(path, obj)


def load_split(config: RunConfig, workspace=None) -> tuple[FewShotData, FewShotData]:
    """(train, test) with disjoint patients.

    Phantoms: the two sets are generated separately (different seeds and id
    prefixes); with ``spurious`` the cue of kind ``cue_kind`` follows the class
    in the training patients and is random in the test patients.  Real data:
    one load, then :func:`split_by_group` by patient/study.  Everything is
    driven by ``config.data_seed``.
    """
    seed = config.data_seed
    if config.dataset in ("brain-phantom", "cxr-phantom"):
        from core.fewshot.datasets.phantom_brain import brain_phantom
        from core.fewshot.datasets.phantom_cxr import cxr_phantom

        make = brain_phantom if config.dataset == "brain-phantom" else cxr_phantom
        n_test = max(3, int(round(config.patients * config.test_fraction)))
        n_train = max(3, config.patients - n_test)
        train = make(n_train, config.slices, config.size, seed=10_000 + seed,
                     cue="class" if config.spurious else "none", patient_prefix="train", cue_kind=config.cue_kind)
        test = make(n_test, config.slices, config.size, seed=20_000 + seed,
                    cue="random" if config.spurious else "none", patient_prefix="test", cue_kind=config.cue_kind)
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


def prepare_run(config: RunConfig, workspace=None) -> tuple[FewShotData, FewShotData]:
    """(train, test) of :func:`load_split`, checked before any training starts.

    Raises ConfigError if the patients overlap, or if the training or test
    data cannot fill the run's episodes (with the patient-disjoint rule where
    it applies; the message names the class that lacks patients).
    """
    config.train.validate()
    train, test = load_split(config, workspace)
    if train.patients() & test.patients():
        raise ConfigError("the training and test sets share patients")
    t = config.train
    for data, disjoint, side in ((train, t.patient_disjoint, "training"), (test, config.eval_disjoint, "test")):
        try:
            EpisodicSampler(data.labels, t.way, t.shot, t.query, groups=data.groups, patient_disjoint=disjoint,
                            class_names=data.class_names)
        except ConfigError as exc:
            raise ConfigError(f"{side} data: {exc}") from None
    return train, test


def run_fewshot(config: RunConfig, out_dir: str | Path, progress: ProgressCallback | None = None,
                workspace=None) -> dict:
    """Train + evaluate; writes ``checkpoint.pt`` and ``metrics.json`` into ``out_dir``.

    Returns the metrics dict (also the JSON content).
    """
    out = Path(out_dir)
    train, test = prepare_run(config, workspace)
    t = config.train
    torch.manual_seed(t.seed)
    cfg = {"backbone": config.backbone, "in_channels": train.in_channels, "hidden": config.hidden,
           "embed_dim": config.embed_dim, "metric": config.metric, "normalize": config.normalize}
    model = build_model(cfg, config.weights)
    trained = train_fewshot(model, train, t, progress)
    metrics = evaluate_episodic(model, test, t.way, t.shot, t.query, episodes=config.eval_episodes,
                                seed=config.eval_seed, cam_episodes=config.cam_episodes, progress=progress,
                                cam_scores=[t.cam_score] + [c for c in CAM_SCORES if c != t.cam_score],
                                patient_disjoint=config.eval_disjoint)
    # The checkpoint's reference support set: one seeded episode of training images.
    ref = EpisodicSampler(train.labels, t.way, t.shot, 1, seed=t.seed).sample()
    support_labels = train.labels[ref.support]
    seeds = {"data": config.data_seed, "train": t.seed, "eval": config.eval_seed}
    result = {
        "config": {**{k: v for k, v in asdict(config).items() if k != "train"}, "train": asdict(t)},
        "seeds": seeds,
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
                    extra={"dataset": config.dataset, "roi_source": config.roi_source, "guidance": t.guidance,
                           "cam_score": t.cam_score,
                           "first_order": t.first_order, "cam_norm": t.cam_norm, "preset": config.preset,
                           "spurious": config.spurious, "cue_kind": config.cue_kind,
                           "data_seed": config.data_seed, "train_seed": t.seed, "eval_seed": config.eval_seed})
    write_json(out / "metrics.json", result)
    return result
