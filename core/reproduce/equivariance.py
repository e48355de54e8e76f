"""``reproduce equivariance``: paper 1 ("Bridging Symmetry and Robustness") at CPU scale.

Trains the six architectures of :data:`core.models.ARCHITECTURES` with several
seeds and evaluates each trained model on one fixed test subset:

* clean accuracy;
* **worst-case** robust accuracy versus ε (L∞, pixel units): the per-image
  worst case of the AutoAttack-style ensemble (APGD-CE, APGD-T, FAB-T,
  Square) and every other attack run, with the five gradient-masking checks
  (:mod:`core.robustness.masking`; the transfer check crafts its examples on
  a separately trained baseline);
* FGSM and PGD-10 accuracy, **weak** attacks kept only to compare with the paper;
* paired differences to the baseline (same seed, same split) with 95% CIs;
* accuracy versus rotation angle and versus scale factor;
* accuracy per corruption × severity (and the mean of all cells);
* CLEVER L2 scores (untargeted) next to the minimal L2 perturbation an attack
  finds on the same images, and how often CLEVER exceeds it;
* Grad-CAM drift (1 − soft Dice, Spearman) under the worst case at a reference ε.

Every number is reported as mean ± 95% Student-t interval **over training
seeds** (each seed trains every model from a different initialisation and
data order; the attacks are seeded with the training seed).  Results go
to ``OUT/equivariance.json``, ``OUT/equivariance.md`` and plotly figures in
``OUT/figures.html``; per-run results are cached in ``OUT/runs/`` so an
interrupted run resumes where it stopped.

Differences from the official code (see PAPERS.md): ε in pixel units with the
normalisation inside the model, attacks in eval mode, PGD with a random start,
corruption severities reported separately, a real (shared-weight) scale
branch and properly typed equivariant stages.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from core.reproduce.equivariance_report import aggregate, figures_html, markdown_tables

NAME = "equivariance"
HELP = "paper 1: robustness of baseline / parallel / cascaded / equivariant CNNs (digits on CPU, CIFAR on GPU)"

__all__ = ["NAME", "HELP", "add_arguments", "run", "Settings", "SETTINGS", "reproduce_equivariance"]


@dataclass(frozen=True)
class Settings:
    """Every knob of one reproduction run (stored in the JSON so results are traceable)."""

    dataset: str = "digits"
    preset: str = "tiny"
    archs: tuple[str, ...] = ("baseline", "parallel_rot", "parallel_scale", "parallel_rot_scale",
                              "cascaded", "equivariant")
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    epochs: int = 8
    batch_size: int = 32
    lr: float = 2e-3
    train_subset: int | None = None
    eval_images: int = 160
    eps: tuple[float, ...] = (0.0, 2 / 255, 4 / 255, 8 / 255, 16 / 255)
    pgd_steps: int = 10
    pgd_alpha: float | None = None
    drift_eps: float = 8 / 255
    angles: tuple[float, ...] = (0.0, 15.0, 30.0, 45.0, 90.0, 180.0)
    scales: tuple[float, ...] = (0.6, 0.8, 1.0, 1.25, 1.5)
    corruptions: tuple[str, ...] | None = None
    severities: tuple[int, ...] = (1, 2, 3, 4, 5)
    clever_images: int = 10
    clever_nb_batch: int = 10
    clever_batch_size: int = 20
    clever_radius: float = 2.0
    # Worst case: the AutoAttack-style ensemble (core.attacks.AutoAttack); None keeps the version's budget.
    # On CPU the standard budget costs ~6x the fast one per robust image (9-target APGD-T and FAB-T,
    # 5000 Square queries); the full run uses "fast" everywhere and measures what "standard" adds
    # on the seeds and radii of ``standard_check_*``.
    worst_version: str = "fast"
    worst_steps: int | None = None
    worst_queries: int | None = None
    standard_check_seeds: tuple[int, ...] = (0,)
    standard_check_eps: tuple[float, ...] = (8 / 255,)
    large_eps: float = 64 / 255
    transfer_check: bool = True
    # Minimal L2 perturbations (bisection with the fast ensemble) on the CLEVER images.
    minimal_iterations: int = 8
    minimal_steps: int = 50
    rotation_orders: dict[str, int] = field(default_factory=dict)
    device: str = "auto"
    # CIFAR-10-C folder: when set, the corruption cells come from its files
    # (first ``eval_images`` rows of every severity block) instead of the synthetic suite.
    cifar10c_root: str | None = None

    def key(self) -> str:
        """Hash of everything that changes a single (arch, seed) result."""
        d = asdict(self)
        for k in ("archs", "seeds", "device"):
            d.pop(k)
        if d["cifar10c_root"] is None:
            # Leave the hash of synthetic-suite runs as it was before this field
            # existed, so their cached results in OUT/runs/ stay valid.
            d.pop("cifar10c_root")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


SETTINGS: dict[str, Settings] = {
    # ≈ 1 min on two idle cores: the smoke test of the whole pipeline.
    "quick": Settings(seeds=(0, 1), epochs=1, lr=3e-3, train_subset=192, eval_images=32,
                      eps=(0.0, 4 / 255, 16 / 255), pgd_steps=2, drift_eps=16 / 255, angles=(0.0, 90.0),
                      scales=(0.8, 1.0), corruptions=("gaussian_noise", "contrast"), severities=(1, 5),
                      clever_images=2, clever_nb_batch=4, clever_batch_size=8, worst_version="fast",
                      worst_steps=5, worst_queries=40, standard_check_eps=(16 / 255,), minimal_iterations=2,
                      minimal_steps=5),
    # Sized to finish in well under an hour on two heavily shared cores: the numbers in docs/science/robustness.md.
    "default": Settings(),
    # The paper's protocol on CIFAR-10 on a GPU: 200 epochs of Adam 1e-3, batch 128, PGD-40 with
    # α = 0.005 and ε from 0.005 to 0.075 in pixel units (0.01-0.15 in the paper's [-1, 1] units).
    "paper": Settings(dataset="cifar10", preset="paper", epochs=200, batch_size=128, lr=1e-3,
                      eval_images=2000, eps=(0.0, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075),
                      pgd_steps=40, pgd_alpha=0.005, drift_eps=0.01, clever_images=20,
                      clever_nb_batch=50, clever_batch_size=100, clever_radius=2.0,
                      scales=(0.8, 0.9, 1.0, 1.1, 1.25),
                      rotation_orders={"parallel_rot": 4, "parallel_rot_scale": 8, "cascaded": 4,
                                       "equivariant": 8}),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes (about a minute)")
    parser.add_argument("--seeds", type=int, default=None, help="number of training seeds (default 5, quick 2)")
    parser.add_argument("--dataset", default="digits", choices=("digits", "cifar10"))
    parser.add_argument("--data-root", default=None, help="folder with the CIFAR-10 python batches")
    parser.add_argument("--cifar10c-root", default=None,
                        help="with --dataset cifar10: folder with the CIFAR-10-C <corruption>.npy files and "
                             "labels.npy; corruption accuracy then comes from these files (first eval-images "
                             "rows of every severity block) instead of the synthetic suite")
    parser.add_argument("--preset", default=None, choices=("tiny", "paper"),
                        help="model widths: tiny (CPU) or paper (GPU); paper also selects the paper's protocol")
    parser.add_argument("--epochs", type=int, default=None, help="override the training epochs")
    parser.add_argument("--archs", default=None, help="comma-separated subset of the architectures")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (1 is fastest on a machine shared with other jobs)")
    parser.add_argument("--out", required=True, help="output folder")


def _settings_from_args(args: argparse.Namespace) -> Settings:
    from core.errors import ConfigError
    from core.models import ARCHITECTURES

    if args.quick:
        base = SETTINGS["quick"]
    elif args.preset == "paper":
        base = SETTINGS["paper"]
    else:
        base = SETTINGS["default"]
    changes: dict[str, Any] = {"dataset": args.dataset, "device": args.device}
    if args.preset is not None:
        changes["preset"] = args.preset
    if args.seeds is not None:
        if args.seeds < 1:
            raise ConfigError("--seeds must be >= 1")
        changes["seeds"] = tuple(range(args.seeds))
    if args.epochs is not None:
        if args.epochs < 1:
            raise ConfigError("--epochs must be >= 1")
        changes["epochs"] = args.epochs
    if args.archs:
        archs = tuple(a.strip() for a in args.archs.split(",") if a.strip())
        unknown = [a for a in archs if a not in ARCHITECTURES]
        if unknown or not archs:
            raise ConfigError(f"unknown architecture {unknown[0] if unknown else args.archs!r}; "
                              f"choose from {', '.join(ARCHITECTURES)}")
        changes["archs"] = archs
    if args.dataset != "digits" and not args.data_root:
        raise ConfigError(f"--dataset {args.dataset} needs --data-root (the folder with its python batches)")
    cifar10c_root = getattr(args, "cifar10c_root", None)
    if cifar10c_root is not None:
        if args.dataset != "cifar10":
            raise ConfigError(f"--cifar10c-root needs --dataset cifar10 (3x32x32 models with 10 classes); "
                              f"got --dataset {args.dataset}")
        changes["cifar10c_root"] = str(cifar10c_root)
    return replace(base, **changes)


def run(args: argparse.Namespace) -> int:
    settings = _settings_from_args(args)
    if args.threads is not None:
        from core.errors import ConfigError

        if args.threads < 1:
            raise ConfigError("--threads must be >= 1")
        import torch

        torch.set_num_threads(args.threads)
    summary = reproduce_equivariance(settings, Path(args.out), data_root=args.data_root, progress=args.progress)
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    print(summary["markdown"])
    print(f"wrote {Path(args.out) / 'equivariance.json'}, equivariance.md and figures.html")
    return 0


# --------------------------------------------------------------------------------------------
# One (architecture, seed) run


def _subset(dataset, n: int | None, seed: int):
    import torch

    from core.datasets import ImageDataset

    if n is None or n >= len(dataset):
        return dataset
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n]
    return ImageDataset(dataset.name, dataset.split, dataset.images[order], dataset.labels[order],
                        dataset.classes, indices=dataset.indices[order.numpy()], split_seed=dataset.split_seed)


def _model_config(arch: str, s: Settings, train_set):
    from core.datasets import dataset_normalization
    from core.models import ModelConfig

    mean, std = dataset_normalization(s.dataset, train_set.in_channels)
    return ModelConfig(arch=arch, preset=s.preset, in_channels=train_set.in_channels,
                       num_classes=train_set.num_classes, image_size=train_set.image_size,
                       rotation_order=s.rotation_orders.get(arch, 4), mean=mean, std=std)


def _train(arch: str, seed: int, s: Settings, data: dict, folder: Path, device):
    """Train one model into ``folder``; returns ``(TrainResult, exported eval-mode model)``."""
    from core.training import TrainConfig, train

    tcfg = TrainConfig(epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, seed=seed, device=str(device.type))
    result = train(_model_config(arch, s, data["train"]), tcfg, s.dataset, split_seed=0, out=folder,
                   datasets=(data["train"], data["val"], data["test_set"]))
    model = result.model.export() if hasattr(result.model, "export") else result.model
    return result, model.eval()


def _surrogate(seed: int, s: Settings, data: dict, out: Path, device):
    """The plain CNN the transfer check crafts its examples on: a baseline with its own seed.

    Trained once per training seed (seed + 1000, so it is never one of the evaluated
    models) with the same data and settings, and reused from its checkpoint.
    """
    from core.training import load_checkpoint

    folder = out / "checkpoints" / f"surrogate-s{seed}-{s.key()[:8]}"
    if (folder / "model.pt").is_file():
        return load_checkpoint(folder / "model.pt").model.eval()
    return _train("baseline", 1000 + seed, s, data, folder, device)[1]


def _standard_check(model, x, y, evaluation, s: Settings, seed: int) -> dict:
    """The standard ensemble at ``standard_check_eps``: what does the bigger budget break beyond the worst case?"""
    from core.attacks import AutoAttack
    from core.robustness import run_attack

    eps = [e for e in s.standard_check_eps if e in s.eps]
    outcome = run_attack(AutoAttack(model, eps, version="standard", steps=s.worst_steps, n_queries=s.worst_queries),
                         x, y, eps, name="autoattack-standard", seeds=(seed,), batch_size=s.eval_images)
    worst = evaluation.worst()
    rows = [s.eps.index(e) for e in eps]
    extra = (~outcome.robust[0] & worst.robust[0][rows]).sum(axis=1)
    return {"eps": eps, "standard_accuracy": outcome.accuracy()[0].tolist(),
            "worst_accuracy": worst.accuracy()[0][rows].tolist(), "images_only_standard_broke": extra.tolist(),
            "counts": outcome.counts()}


def _run_one(arch: str, seed: int, s: Settings, data: dict, out: Path, device) -> dict:
    import numpy as np

    from core.datasets import CORRUPTIONS
    from core.robustness import (cifar10c_accuracy, clever_batch, clever_vs_minimal, corruption_accuracy,
                                 evaluate_worst_case, explanation_drift, minimal_perturbation, rotation_curve,
                                 scale_curve)

    t0 = time.time()
    result, model = _train(arch, seed, s, data, out / "checkpoints" / f"{arch}-s{seed}", device)
    train_seconds = time.time() - t0
    surrogate = _surrogate(seed, s, data, out, device) if s.transfer_check else None
    x, y = data["x"].to(device), data["y"].to(device)
    t1 = time.time()
    eps = list(s.eps)
    drift_index = eps.index(s.drift_eps) if s.drift_eps in eps else None
    evaluation = evaluate_worst_case(
        model, x, y, eps, version=s.worst_version, seeds=(seed,), surrogate=surrogate,
        surrogate_name=f"baseline seed {1000 + seed}" if surrogate is not None else None, large_eps=s.large_eps,
        steps=s.worst_steps, n_queries=s.worst_queries, weak_steps=s.pgd_steps, batch_size=s.eval_images,
        keep_eps=() if drift_index is None else (drift_index,))
    rot = rotation_curve(model, x, y, s.angles)
    scl = scale_curve(model, x, y, s.scales)
    if s.cifar10c_root is None:
        corr = corruption_accuracy(model, x, y, corruptions=list(s.corruptions or CORRUPTIONS),
                                   severities=s.severities, seed=seed)
    else:
        corr = cifar10c_accuracy(model, s.cifar10c_root, corruptions=list(s.corruptions) if s.corruptions else None,
                                 severities=s.severities, n_images=s.eval_images)
    cl = clever_batch(model, x[:s.clever_images], norm=2, nb_batch=s.clever_nb_batch,
                      batch_size=s.clever_batch_size, radius=s.clever_radius, seed=1000 * seed)
    minimal = minimal_perturbation(model, x[:s.clever_images], norm="2", upper=s.clever_radius,
                                   iterations=s.minimal_iterations, steps=s.minimal_steps, seed=seed)
    run = {
        "arch": arch, "seed": seed, "settings_key": s.key(), "train_seconds": train_seconds,
        "val_acc": result.metrics.get("val_acc"), "clean_acc": evaluation.clean_accuracy,
        "n_params": int(sum(p.numel() for p in result.model.parameters())),
        "worst": evaluation.worst().to_dict(), "ensemble": evaluation.ensemble.to_dict(),
        "fgsm": evaluation.weak["fgsm"].to_dict(), "pgd": evaluation.weak[f"pgd-{s.pgd_steps}"].to_dict(),
        "masking_checks": [c.to_dict() for c in evaluation.checks], "suspicious": evaluation.suspicious,
        "rotation": rot.to_dict(), "scale": scl.to_dict(), "corruption": corr.to_dict(),
        "clever": {"norm": "2", "radius": s.clever_radius, "scores": [r.score for r in cl],
                   "mean": float(np.mean([r.score for r in cl])),
                   "fallback_fraction": float(np.mean([r.fallback for r in cl]))},
        "clever_vs_minimal": clever_vs_minimal([r.score for r in cl], minimal),
    }
    if seed in s.standard_check_seeds and s.worst_version != "standard":
        run["standard_check"] = _standard_check(model, x, y, evaluation, s, seed)
    if drift_index is not None:
        adv = evaluation.ensemble.adversarial[drift_index].to(device)
        run["drift"] = {"eps": s.drift_eps, "attack": f"autoattack-{s.worst_version}",
                        **explanation_drift(model, x, adv).to_dict()}
    run["eval_seconds"] = time.time() - t1
    return run


def _check_cifar10c(settings: Settings) -> None:
    """Refuse a CIFAR-10-C run that would fail only after training: wrong data set or missing files."""
    from core.errors import ConfigError, LoadError
    from core.robustness import cifar10c_corruptions

    if settings.dataset != "cifar10":
        raise ConfigError(f"--cifar10c-root needs --dataset cifar10 (3x32x32 models with 10 classes); "
                          f"got --dataset {settings.dataset}")
    present = cifar10c_corruptions(settings.cifar10c_root)
    missing = [c for c in settings.corruptions or () if c not in present]
    if missing:
        raise LoadError(f"CIFAR-10-C corruption {missing[0]!r} has no file in {settings.cifar10c_root}; "
                        f"present: {', '.join(present)}")


def reproduce_equivariance(settings: Settings, out: Path, *, data_root: str | None = None,
                           progress=None) -> dict:
    """Run (or resume) the reproduction described by ``settings``; write the outputs into ``out``.

    Returns the summary dictionary that is also written to ``out/equivariance.json``
    (plus its ``markdown`` table).
    """
    from core.datasets import load_dataset
    from core.progress import ProgressEvent
    from core.robustness.reports import evaluation_subset, write_json_atomic, write_text_atomic
    from core.training import resolve_device

    device = resolve_device(settings.device)
    if settings.cifar10c_root is not None:
        _check_cifar10c(settings)
    out = Path(out)
    runs_dir = out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    full_train = load_dataset(settings.dataset, "train", root=data_root)
    if settings.cifar10c_root is not None:
        from core.errors import ConfigError
        from core.robustness import CIFAR10C_SHAPE

        shape = (full_train.in_channels, full_train.image_size, full_train.image_size)
        if shape != CIFAR10C_SHAPE or full_train.num_classes != 10:
            raise ConfigError(f"--cifar10c-root needs 3x32x32 images and 10 classes; {settings.dataset} has "
                              f"{shape[0]}x{shape[1]}x{shape[2]} and {full_train.num_classes} classes")
    x, y = evaluation_subset(settings.dataset, root=data_root, n_images=settings.eval_images)
    data = {"train": _subset(full_train, settings.train_subset, 0),
            "val": load_dataset(settings.dataset, "val", root=data_root),
            "test_set": load_dataset(settings.dataset, "test", root=data_root), "x": x, "y": y}
    if settings.train_subset is not None:
        data["val"] = _subset(data["val"], max(64, settings.eval_images), 0)
        data["test_set"] = _subset(data["test_set"], max(64, settings.eval_images), 0)
    jobs = [(a, sd) for sd in settings.seeds for a in settings.archs]
    runs = []
    started = time.time()
    for step, (arch, seed) in enumerate(jobs, start=1):
        path = runs_dir / f"{arch}-s{seed}.json"
        cached = json.loads(path.read_text()) if path.is_file() else None
        if cached is not None and cached.get("settings_key") == settings.key():
            runs.append(cached)
        else:
            if progress is not None:
                progress(ProgressEvent("equivariance", step - 1, len(jobs), message=f"{arch} seed {seed}"))
            result = _run_one(arch, seed, settings, data, out, device)
            write_json_atomic(path, result)
            runs.append(json.loads(path.read_text()))
        if progress is not None:
            progress(ProgressEvent("equivariance", step, len(jobs),
                                   metrics={"clean": runs[-1]["clean_acc"],
                                            "worst_last": runs[-1]["worst"]["mean"][-1]},
                                   message=f"{arch} seed {seed}"))
    models = aggregate(runs, settings)
    markdown = markdown_tables(models, settings)
    summary = {
        "experiment": "equivariance", "paper": "Bridging Symmetry and Robustness (NeurIPS 2025)",
        "settings": asdict(settings), "ci": "mean ± 95% Student-t interval over training seeds",
        "models": models, "wall_seconds": time.time() - started, "markdown": markdown,
    }
    write_json_atomic(out / "equivariance.json", summary)
    write_text_atomic(out / "equivariance.md", "# Equivariance reproduction\n\n" + markdown + "\n")
    write_text_atomic(out / "figures.html", figures_html(models, settings))
    return summary
