"""The CLI command lines the studio runs as background jobs.

One function per kind of job, so the pages never spell out CLI flags and a
flag rename is fixed in one place (and caught by ``tests/test_app*.py``,
which parse every command line built here with the real CLI parser).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from core.fewshot_defaults import DEFAULTS as D
from core.workspace import Workspace

__all__ = ["TRAIN_DATASETS", "MEDICAL_TRAIN_DATASETS", "train_argv", "train_out_dir", "fewshot_argv",
           "fewshot_out_dir", "fewshot_check", "robustness_dir", "ROBUSTNESS_RUNS", "robustness_argv",
           "reproduce_argv", "surrogate_for", "FEWSHOT_ROBUSTNESS_OPTIONS", "FEWSHOT_ROBUSTNESS_QUICK",
           "fewshot_robustness_path", "fewshot_robustness_argv"]

#: What the Symmetry page trains on: digits, then the medical datasets (split by patient).
TRAIN_DATASETS: tuple[str, ...] = ("digits", "brain-phantom", "cxr-phantom", "store", "brats", "vindr")
MEDICAL_TRAIN_DATASETS: tuple[str, ...] = TRAIN_DATASETS[1:]


def train_out_dir(workspace: Workspace, arch: str, dataset: str, seed: int, size: int | None = None) -> Path:
    """Where a studio training run writes its checkpoint (one folder per run; medical runs name their size)."""
    run = dataset if size is None else f"{dataset}-{size}"
    return workspace.checkpoints / f"{arch}-{run}-s{seed}"


def train_argv(workspace: Workspace, *, arch: str, dataset: str = "digits", preset: str = "tiny",
               epochs: int = 3, seed: int = 0, size: int = 64, spurious: bool = False,
               data_root: str | None = None) -> list[str]:
    """``python -m core train ...`` for one architecture.

    ``size``, ``spurious`` (phantoms) and ``data_root`` (BraTS / VinDr) only
    apply to the medical datasets and are left out for digits.
    """
    medical = dataset in MEDICAL_TRAIN_DATASETS
    out = train_out_dir(workspace, arch, dataset, seed, size if medical else None)
    argv = ["train", "--model", arch, "--dataset", dataset, "--preset", preset, "--epochs", str(epochs),
            "--seed", str(seed), "--out", str(out)]
    if medical:
        argv += ["--size", str(size)] + (["--spurious"] if spurious else [])
        if data_root:
            argv += ["--data-root", str(data_root)]
    return argv


def fewshot_out_dir(workspace: Workspace, run: str, guidance: str) -> Path:
    """Where a studio few-shot run writes its results (guided and unguided side by side)."""
    return workspace.reports / "fewshot" / run / guidance


def fewshot_argv(workspace: Workspace, *, data: str = "brain-phantom", guidance: str = D.guidance, run: str = "demo",
                 way: int = D.way, shot: int = D.shot, query: int = D.query, alpha: float = D.alpha,
                 backbone: str = D.backbone, episodes: int = D.episodes, eval_episodes: int = D.eval_episodes,
                 cam_episodes: int = D.cam_episodes, data_root: str | None = None, weights: str | None = None,
                 data_seed: int = D.data_seed, train_seed: int = D.train_seed, eval_seed: int = D.eval_seed,
                 cam_score: str = D.cam_score, roi_source: str | None = None) -> list[str]:
    """``python -m core fewshot ...`` for one guided (``dice``/``rrr``) or unguided (``none``) run.

    Defaults are :data:`core.fewshot_defaults.DEFAULTS`, the same as the CLI's
    and the Python API's; options the studio does not show (Grad-CAM order and
    normalisation, the patient-disjoint rules) are left to the CLI's preset.
    """
    argv = ["fewshot", "--dataset", data, "--guidance", guidance, "--way", str(way), "--shot", str(shot),
            "--query", str(query), "--alpha", str(alpha), "--backbone", backbone, "--episodes", str(episodes),
            "--eval-episodes", str(eval_episodes), "--cam-episodes", str(cam_episodes),
            "--data-seed", str(data_seed), "--train-seed", str(train_seed), "--eval-seed", str(eval_seed),
            "--cam-score", cam_score, "--out", str(fewshot_out_dir(workspace, run, guidance))]
    if data_root:
        argv += ["--data-root", str(data_root)]
    if weights:
        argv += ["--weights", str(weights)]
    if roi_source:
        argv += ["--roi-source", str(roi_source)]
    return argv


def fewshot_check(workspace: Workspace, argv: list[str]) -> None:
    """Raise the ConfigError / LoadError a ``fewshot`` job built from ``argv`` would stop on at start-up.

    Loads the data and checks that it can fill the run's episodes (patient-
    disjoint where the run asks for it), so the page can say so before it
    launches anything.  ``argv`` comes from :func:`fewshot_argv`.
    """
    from core.cli import build_parser
    from core.cli.fewshot import run_config
    from core.fewshot import prepare_run

    prepare_run(run_config(build_parser().parse_args(argv)), workspace)


def robustness_dir(workspace: Workspace, model_name: str) -> Path:
    """Where the studio's evaluation jobs for one registry model write their JSON reports."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_name)
    return workspace.reports / "robustness" / safe


#: Evaluation jobs per model: report file stem -> CLI options after the checkpoint.
ROBUSTNESS_RUNS: dict[str, list[str]] = {
    # The worst case (standard ensemble) is the headline; PGD-10/FGSM come along as weak references,
    # and the gradient-masking checks run with it.
    "attack": ["attack", "--attack", "autoattack", "--version", "standard",
               "--eps", "0,1/255,2/255,4/255,8/255,16/255", "--n-images", "200", "--drift"],
    # Untargeted CLEVER takes gradients for every target class: kept small so it is minutes, not hours, on a CPU.
    # It comes with the minimal perturbation an attack finds on the same images.
    "clever": ["clever", "--n-images", "10", "--norm", "2", "--nb-batch", "10", "--batch-size", "32"],
    "transforms": ["transforms", "--n-images", "300"],
}


def surrogate_for(models: Sequence, model_name: str, dataset: str) -> Path | None:
    """A plain baseline from the registry (not the model itself) for the transfer check, or ``None``.

    ``models`` are :class:`core.studio.registry.ModelEntry`; the first baseline
    trained on ``dataset`` other than ``model_name`` is taken.
    """
    for entry in models:
        if entry.arch == "baseline" and entry.name != model_name and entry.error is None \
                and entry.metrics.get("dataset", "digits") == dataset:
            return Path(entry.path)
    return None


def robustness_argv(workspace: Workspace, model_name: str, checkpoint: Path, run: str, dataset: str = "digits",
                    surrogate: Path | None = None) -> list[str]:
    """``python -m core attack|clever|transforms ...`` writing ``<robustness_dir>/<run>.json``.

    ``surrogate`` (for ``attack``) is the checkpoint the transfer check crafts its examples on.
    """
    base = ROBUSTNESS_RUNS[run]
    out = robustness_dir(workspace, model_name) / f"{run}.json"
    extra = ["--surrogate", str(surrogate)] if surrogate is not None and run == "attack" else []
    return [base[0], "--checkpoint", str(checkpoint), "--dataset", dataset, *base[1:], *extra, "--out", str(out)]


def reproduce_argv(workspace: Workspace, quick: bool = True) -> list[str]:
    """``python -m core reproduce equivariance`` into ``<workspace>/reports/equivariance[-quick]``."""
    out = workspace.reports / ("equivariance-quick" if quick else "equivariance")
    return ["reproduce", "equivariance", *(["--quick"] if quick else []), "--out", str(out)]


#: The studio's few-shot robustness job (``python -m core fewshot-robustness``): the fast worst-case ensemble on
#: 20 test episodes of the run (its eval seed), curves over ε, rotation and scale.  Small ε cost the most (images
#: that survive the gradient attacks get Square's 1000 queries): about 10-30 s per episode at 64x64 on one thread.
FEWSHOT_ROBUSTNESS_OPTIONS: list[str] = ["--eps", "0,1/255,2/255,4/255,8/255", "--angles", "0,45,90,180,random",
                                         "--scales", "0.8,0.9,1,1.1,1.25", "--episodes", "20"]
#: Its quick variant (a first look in about a minute).
FEWSHOT_ROBUSTNESS_QUICK: list[str] = ["--quick", "--eps", "0,2/255,8/255", "--angles", "0,90,random",
                                       "--scales", "0.8,1,1.25"]


def fewshot_robustness_path(workspace: Workspace, model_name: str, roi_mode: str | None = None) -> Path:
    """Where the studio's few-shot robustness job for registry model ``model_name`` writes its report."""
    suffix = f"-{roi_mode}" if roi_mode else ""
    return robustness_dir(workspace, model_name) / f"fewshot-robustness{suffix}.json"


def fewshot_robustness_argv(workspace: Workspace, model_name: str, run_folder: Path, *, quick: bool = False,
                            roi_mode: str | None = None) -> list[str]:
    """``python -m core fewshot-robustness --run <run_folder> ...`` writing :func:`fewshot_robustness_path`.

    ``run_folder`` holds the run's ``checkpoint.pt`` and ``metrics.json``; ``roi_mode``
    (``outside``/``inside``) restricts the attack to that side of the ROI.
    """
    argv = ["fewshot-robustness", "--run", str(run_folder),
            *(FEWSHOT_ROBUSTNESS_QUICK if quick else FEWSHOT_ROBUSTNESS_OPTIONS)]
    if roi_mode:
        argv += ["--roi-mode", roi_mode]
    return argv + ["--out", str(fewshot_robustness_path(workspace, model_name, roi_mode))]
