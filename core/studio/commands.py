"""The CLI command lines the studio runs as background jobs.

One function per kind of job, so the pages never spell out CLI flags and a
flag rename is fixed in one place (and caught by ``tests/test_app*.py``,
which parse every command line built here with the real CLI parser).
"""

from __future__ import annotations

from pathlib import Path

from core.workspace import Workspace

__all__ = ["TRAIN_DATASETS", "MEDICAL_TRAIN_DATASETS", "train_argv", "train_out_dir", "fewshot_argv",
           "fewshot_out_dir", "robustness_dir",
           "ROBUSTNESS_RUNS", "robustness_argv", "reproduce_argv"]

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


def fewshot_argv(workspace: Workspace, *, data: str = "brain-phantom", guidance: str = "dice", run: str = "demo",
                 way: int = 3, shot: int = 5, query: int = 5, alpha: float = 0.1, backbone: str = "conv4",
                 episodes: int = 150, eval_episodes: int = 200, cam_episodes: int = 30,
                 data_root: str | None = None, weights: str | None = None, seed: int = 0,
                 cam_score: str = "log_prob") -> list[str]:
    """``python -m core fewshot ...`` for one guided (``dice``/``rrr``) or unguided (``none``) run.

    ``cam_score`` defaults to ``log_prob`` here although the CLI defaults to the
    paper's ``distance``: on our phantoms guidance through the paper's target
    lowered accuracy and CAM-ROI Dice (docs/science/fewshot.md), and the
    studio should offer what measurably works.
    """
    argv = ["fewshot", "--dataset", data, "--guidance", guidance, "--way", str(way), "--shot", str(shot),
            "--query", str(query), "--alpha", str(alpha), "--backbone", backbone, "--episodes", str(episodes),
            "--eval-episodes", str(eval_episodes), "--cam-episodes", str(cam_episodes), "--seed", str(seed),
            "--cam-score", cam_score, "--out", str(fewshot_out_dir(workspace, run, guidance))]
    if data_root:
        argv += ["--data-root", str(data_root)]
    if weights:
        argv += ["--weights", str(weights)]
    return argv


def robustness_dir(workspace: Workspace, model_name: str) -> Path:
    """Where the studio's evaluation jobs for one registry model write their JSON reports."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_name)
    return workspace.reports / "robustness" / safe


#: Evaluation jobs per model: report file stem -> CLI options after the checkpoint.
ROBUSTNESS_RUNS: dict[str, list[str]] = {
    "fgsm": ["attack", "--attack", "fgsm", "--eps", "0,1/255,2/255,4/255,8/255,16/255,32/255", "--n-images", "300"],
    "pgd": ["attack", "--attack", "pgd", "--eps", "0,1/255,2/255,4/255,8/255,16/255", "--steps", "10",
            "--n-images", "200", "--seeds", "0,1", "--drift"],
    # Untargeted CLEVER takes gradients for every target class: kept small so it is minutes, not hours, on a CPU.
    "clever": ["clever", "--n-images", "10", "--norm", "2", "--nb-batch", "10", "--batch-size", "32"],
    "transforms": ["transforms", "--n-images", "300"],
}


def robustness_argv(workspace: Workspace, model_name: str, checkpoint: Path, run: str, dataset: str = "digits"
                    ) -> list[str]:
    """``python -m core attack|clever ...`` writing ``<robustness_dir>/<run>.json``."""
    base = ROBUSTNESS_RUNS[run]
    out = robustness_dir(workspace, model_name) / f"{run}.json"
    return [base[0], "--checkpoint", str(checkpoint), "--dataset", dataset, *base[1:], "--out", str(out)]


def reproduce_argv(workspace: Workspace, quick: bool = True) -> list[str]:
    """``python -m core reproduce equivariance`` into ``<workspace>/reports/equivariance[-quick]``."""
    out = workspace.reports / ("equivariance-quick" if quick else "equivariance")
    return ["reproduce", "equivariance", *(["--quick"] if quick else []), "--out", str(out)]
