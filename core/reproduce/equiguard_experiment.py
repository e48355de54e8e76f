"""``reproduce equiguard`` end to end: the grid, its runs (resumable), the statistics and the files.

Runs go through :func:`core.fewshot.runner.run_grid` (worker processes, one
torch thread each) with :class:`RobustnessEvaluation` as the per-run hook and
``resume=True``: each finished run leaves ``runs/<name>/grid_result.json``, so
an interrupted experiment picks up where it stopped; changing any size or
seed changes the runs' keys and recomputes them.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from core.progress import ProgressCallback
from core.reproduce.equiguard_design import (CONDITIONS, CUES, DATASETS, FULL, QUICK, RRR_ALPHA, SYMMETRY_BACKBONE,
                                             TRAININGS, EquiGuardSizes, check_choice, grid)
from core.reproduce.equiguard_eval import RobustnessEvaluation, eps_label, metric_names, run_metrics
from core.reproduce.equiguard_report import markdown_report
from core.reproduce.equiguard_stats import condition_rows, paired_differences

__all__ = ["run_equiguard"]


def _run_record(run: dict, result: dict, metrics: dict) -> dict:
    rob = result["robustness"]
    return {"name": run["name"], "dataset": run["dataset"], "cue": run["cue"], "backbone": run["backbone"],
            "training": run["training"], "seed": run["seed"], "metrics": metrics,
            "clean_accuracy_ci": result["accuracy"], "train_seconds": result["train_seconds"],
            "robustness_seconds": rob["seconds"],
            "wall_seconds": result.get("wall_seconds"), "checkpoint": f"runs/{run['name']}/checkpoint.pt"}


def run_equiguard(out: Path, quick: bool = False, seeds: Sequence[int] | None = None, workers: int = 2,
                  threads: int = 1, progress: ProgressCallback | None = None,
                  datasets: Sequence[str] | None = None, cues: Sequence[str] | None = None,
                  sizes: EquiGuardSizes | None = None) -> dict:
    """Run the experiment into ``out`` (``results.json``, ``results.md``, ``runs/``) and return the summary.

    Args:
        quick: tiny sizes (:data:`QUICK`) and seed 0 unless ``seeds`` is given.
        seeds: each is the data and training seed of one run per condition (default 0 1 2).
        workers, threads: processes and torch threads per process.
        datasets, cues: a subset of :data:`DATASETS` / :data:`CUES` (default all).
        sizes: override :data:`FULL` / :data:`QUICK` (tests).

    Raises:
        ConfigError: an unknown phantom or cue, no seed, or a bad seed.
    """
    from core.fewshot.experiment import write_json
    from core.fewshot.runner import cached_result, run_grid, run_key
    from core.atomic import write_text_atomic

    sizes = sizes or (QUICK if quick else FULL)
    seeds = list(dict.fromkeys(seeds)) if seeds else ([0] if quick else [0, 1, 2])
    datasets = check_choice(datasets, DATASETS, "phantom")
    cues = check_choice(cues, CUES, "cue")
    runs = grid(sizes, seeds, datasets, cues)
    evaluation = RobustnessEvaluation(sizes)
    run_dir = out / "runs"
    cached = sum(cached_result(r, run_dir, run_key(r, None, evaluation)) is not None for r in runs)
    start = time.perf_counter()
    results = run_grid(runs, run_dir, workers, threads, progress, evaluate=evaluation, resume=True)
    wall = time.perf_counter() - start
    names = metric_names(sizes)
    metrics = [run_metrics(r, sizes) for r in results]
    rows = condition_rows(runs, metrics, names)
    diffs = paired_differences(runs, metrics, names)
    summary = {
        "synthetic_data": True, "quick": quick, "seeds": seeds, "eval_seed": runs[0]["config"].eval_seed,
        "datasets": list(datasets), "cues": list(cues), "symmetry_backbone": SYMMETRY_BACKBONE,
        "conditions": [c.label for c in CONDITIONS], "trainings": TRAININGS,
        "alpha": runs[0]["config"].train.alpha, "rrr_alpha": RRR_ALPHA,
        "sizes": asdict(sizes), "eps_labels": [eps_label(e) for e in sizes.eps], "metrics": names,
        "attack": results[0]["robustness"]["attack_info"],
        "wall_seconds": wall, "runs_computed": len(runs) - cached, "runs_cached": cached,
        "run_seconds_total": sum(r.get("wall_seconds") or 0.0 for r in results),
        "rows": rows, "differences": diffs,
        "runs": [_run_record(r, res, m) for r, res, m in zip(runs, results, metrics)],
    }
    # Per-episode curves with their CIs stay in each run's runs/<name>/grid_result.json.
    md = markdown_report(summary, rows, diffs, names)
    write_json(out / "results.json", summary)
    write_text_atomic(out / "results.md", md)
    summary["markdown"] = md
    return summary
