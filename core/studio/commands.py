"""The CLI command lines the studio runs as background jobs.

One function per kind of job, so the pages never spell out CLI flags and a
flag rename is fixed in one place (and caught by ``tests/test_app*.py``,
which parse every command line built here with the real CLI parser).
"""

from __future__ import annotations

from pathlib import Path

from core.workspace import Workspace

__all__ = ["TRAIN_DATASETS", "train_argv", "train_out_dir", "fewshot_argv", "fewshot_out_dir"]

TRAIN_DATASETS: tuple[str, ...] = ("digits",)


def train_out_dir(workspace: Workspace, arch: str, dataset: str, seed: int) -> Path:
    """Where a studio training run writes its checkpoint (one folder per run)."""
    return workspace.checkpoints / f"{arch}-{dataset}-s{seed}"


def train_argv(workspace: Workspace, *, arch: str, dataset: str = "digits", preset: str = "tiny",
               epochs: int = 3, seed: int = 0) -> list[str]:
    """``python -m core train ...`` for one architecture."""
    out = train_out_dir(workspace, arch, dataset, seed)
    return ["train", "--model", arch, "--dataset", dataset, "--preset", preset, "--epochs", str(epochs),
            "--seed", str(seed), "--out", str(out)]


def fewshot_out_dir(workspace: Workspace, run: str, guidance: str) -> Path:
    """Where a studio few-shot run writes its results (guided and unguided side by side)."""
    return workspace.reports / "fewshot" / run / guidance


def fewshot_argv(workspace: Workspace, *, data: str = "brain-phantom", guidance: str = "dice", run: str = "demo",
                 n_way: int = 3, k_shot: int = 5, q_query: int = 5, alpha: float = 0.1,
                 backbone: str | None = None, episodes: int | None = None, data_path: str | None = None) -> list[str]:
    """``python -m core fewshot ...`` for one guided or unguided run."""
    argv = ["fewshot", "train", "--data", data, "--guidance", guidance, "--n-way", str(n_way),
            "--k-shot", str(k_shot), "--q-query", str(q_query), "--alpha", str(alpha),
            "--out", str(fewshot_out_dir(workspace, run, guidance))]
    if backbone:
        argv += ["--backbone", backbone]
    if episodes:
        argv += ["--episodes", str(episodes)]
    if data_path:
        argv += ["--data-path", data_path]
    return argv
