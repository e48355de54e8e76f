"""Many few-shot runs in worker processes, and their results pooled per cell of an experiment grid.

Used by ``reproduce fewshot`` and ``reproduce fewshot-normalisation``.  A run
is a dict with ``name``, ``config`` (:class:`RunConfig`), ``data_seed``,
``train_seed`` and the cell labels (``dataset``, ``spurious``, ``arm``).
Each run writes its checkpoint and metrics to ``<run_dir>/<name>/``; the run
folder holds a ``.gitignore`` so checkpoints kept for later analyses are
never committed by accident.  With ``resume=True`` each finished run also
leaves ``<run_dir>/<name>/grid_result.json``, keyed by a hash of everything
that made it, so a grid that was interrupted skips the runs it already has.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from core.atomic import write_json_atomic, write_text_atomic
from core.fewshot.experiment import RunConfig, run_fewshot
from core.fewshot.stats import mean_ci
from core.progress import ProgressCallback, ProgressEvent

__all__ = ["seed_pairs", "run_grid", "run_key", "cached_result", "RunEvaluation", "CACHE_FILE", "pool_cells", "spread"]

#: A run's extra evaluation, called in the worker after training: ``(run, run folder) -> dict`` merged into
#: its result.  It must be picklable (a module-level function or an instance of a module-level class);
#: its ``cache_key`` attribute (or else its repr) enters :func:`run_key`.
RunEvaluation = Callable[[dict, Path], dict]
CACHE_FILE = "grid_result.json"


def seed_pairs(data_seeds: list[int], train_seeds: list[int]) -> list[tuple[int, int]]:
    """(data seed, training seed) pairs of a star design.

    Every data seed with the first training seed, and the first data seed
    with every training seed: ``len(data) + len(train) - 1`` runs show the
    spread over data and over initialisation separately.
    """
    pairs = [(d, train_seeds[0]) for d in data_seeds] + [(data_seeds[0], t) for t in train_seeds[1:]]
    return list(dict.fromkeys(pairs))


def _same_patient_accuracy(config: RunConfig, folder: Path) -> dict:
    """Accuracy of the saved model when test episodes may reuse a patient (the old protocol)."""
    from core.fewshot.checkpoint import load_checkpoint
    from core.fewshot.evaluate import evaluate_episodic
    from core.fewshot.experiment import load_split

    model, _ = load_checkpoint(folder / "checkpoint.pt")
    _, test = load_split(config)
    t = config.train
    out = evaluate_episodic(model, test, t.way, t.shot, t.query, episodes=config.eval_episodes,
                            seed=config.eval_seed, cam_episodes=0, cam_scores=(), patient_disjoint=False)
    return {"accuracy": out["accuracy"], "episode_accuracy": out["episode_accuracy"]}


def _plain(obj):
    return asdict(obj) if is_dataclass(obj) and not isinstance(obj, type) else obj


def run_key(run: dict, checks=None, evaluate: RunEvaluation | None = None) -> str:
    """Hash of what makes a run's result: its name, config, checks and evaluation settings."""
    what = {"name": run["name"], "config": _plain(run["config"]), "checks": _plain(checks),
            "evaluate": None if evaluate is None else getattr(evaluate, "cache_key", repr(evaluate))}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached_result(run: dict, run_dir: Path, key: str) -> dict | None:
    """The stored result of ``run`` in ``run_dir`` if its :func:`run_key` is ``key``, else None."""
    path = run_dir / run["name"] / CACHE_FILE
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return stored.get("result") if isinstance(stored, dict) and stored.get("key") == key else None


def _worker(run: dict, run_dir: str, threads: int, checks=None, evaluate: RunEvaluation | None = None,
            key: str | None = None) -> dict:
    import torch

    # One core per worker: two workers fill the machine without oversubscription.
    torch.set_num_threads(threads)
    start = time.perf_counter()
    folder = Path(run_dir) / run["name"]
    result = run_fewshot(run["config"], folder)
    if run["config"].eval_disjoint:
        result["same_patient"] = _same_patient_accuracy(run["config"], folder)
    if checks is not None:  # CheckSizes: explainers the guidance never saw, on the same test episodes
        from core.fewshot.explanation_checks import check_run

        result["explanation_checks"] = check_run(run["config"], folder, checks)
    if evaluate is not None:
        result.update(evaluate(run, folder))
    result["wall_seconds"] = time.perf_counter() - start
    if key is not None:  # written last: a run interrupted before this point is run again
        write_json_atomic(folder / CACHE_FILE, {"key": key, "result": result})
    return result


def run_grid(runs: list[dict], run_dir: Path, workers: int = 2, threads: int = 1,
             progress: ProgressCallback | None = None, checks=None, evaluate: RunEvaluation | None = None,
             resume: bool = False) -> list[dict]:
    """Run every run (``workers`` processes of ``threads`` torch threads); results in run order.

    ``checks`` (:class:`core.fewshot.explanation_checks.CheckSizes`, optional) adds
    each run's independent-explainer checks to its result; ``evaluate`` (see
    :data:`RunEvaluation`) adds any other evaluation of the trained run.
    ``resume`` takes a run's result from its ``grid_result.json`` when the
    stored :func:`run_key` matches, and stores every new result there.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / ".gitignore", "# checkpoints of the runs: kept for later analyses, never committed\n*\n")
    results: list[dict | None] = [None] * len(runs)
    keys = [run_key(run, checks, evaluate) if resume else None for run in runs]
    done = 0
    for i, run in enumerate(runs):
        if keys[i] is not None and (cached := cached_result(run, run_dir, keys[i])) is not None:
            results[i] = cached
            done += 1
    todo = [i for i in range(len(runs)) if results[i] is None]

    def report(i: int) -> None:
        if progress is not None:
            progress(ProgressEvent("reproduce", done, len(runs), message=runs[i]["name"],
                                   metrics={"acc": results[i]["accuracy"]["mean"]}))

    if workers == 1:
        for i in todo:
            results[i] = _worker(runs[i], str(run_dir), threads, checks, evaluate, keys[i])
            done += 1
            report(i)
    elif todo:
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(_worker, runs[i], str(run_dir), threads, checks, evaluate, keys[i]): i
                       for i in todo}
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                done += 1
                report(i)
    return results  # type: ignore[return-value]


def spread(values: list[float]) -> dict:
    """Per-run values with their mean, sample standard deviation and range."""
    arr = np.asarray(values, dtype=np.float64)
    return {"values": [float(v) for v in arr], "mean": float(arr.mean()) if arr.size else float("nan"),
            "sd": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
            "range": float(arr.max() - arr.min()) if arr.size else 0.0}


def _pooled(stats: list[dict]) -> dict:
    """Mean and 95% CI over the episodes of several runs, from each run's (mean, std, n)."""
    n = sum(s["n"] for s in stats)
    mean = sum(s["n"] * s["mean"] for s in stats) / max(1, n)
    var = sum((s["n"] - 1) * s["std"] ** 2 + s["n"] * (s["mean"] - mean) ** 2 for s in stats) / max(1, n - 1)
    return {"mean": float(mean), "ci95": 1.96 * float(np.sqrt(var / n)) if n > 1 else 0.0, "n": int(n)}


def pool_cells(runs: list[dict], results: list[dict], keys: tuple[str, ...] = ("dataset", "spurious", "arm"),
               target: str = "log_prob") -> list[dict]:
    """One row per cell (the runs sharing ``keys``), in first-seen order.

    Accuracy pools the test episodes of all the cell's runs (mean +- 95% CI);
    ``by_data_seed`` / ``by_train_seed`` give the per-run accuracies over the
    data seeds (first training seed) and over the training seeds (first data
    seed) separately.  Alignment uses Grad-CAM with the ``target`` score
    (``cam_dice_paper_target``: with the paper's -distance target).
    """
    cells: dict[tuple, list[int]] = {}
    for i, run in enumerate(runs):
        cells.setdefault(tuple(run[k] for k in keys), []).append(i)
    rows = []
    for key, members in cells.items():
        res = [results[i] for i in members]
        d0 = runs[members[0]]["data_seed"]
        t0 = runs[members[0]]["train_seed"]
        by = [r["alignment_by_score"][target] for r in res]
        row = dict(zip(keys, key))
        row.update({
            "runs": len(members),
            "seeds": len(members),
            "seed_pairs": [[runs[i]["data_seed"], runs[i]["train_seed"]] for i in members],
            "accuracy": mean_ci([a for r in res for a in r["episode_accuracy"]]),
            "accuracy_per_run": [r["accuracy"]["mean"] for r in res],
            "by_data_seed": spread([results[i]["accuracy"]["mean"] for i in members if runs[i]["train_seed"] == t0]),
            "by_train_seed": spread([results[i]["accuracy"]["mean"] for i in members if runs[i]["data_seed"] == d0]),
            "alignment_target": target,
            "cam_dice": _pooled([b["dice"] for b in by]),
            "cam_energy": float(np.mean([b["energy"]["mean"] for b in by])),
            "cam_energy_ci": _pooled([b["energy"] for b in by]),
            "cam_dice_paper_target": float(np.mean([r["alignment_by_score"]["distance"]["dice"]["mean"]
                                                     for r in res if "distance" in r["alignment_by_score"]])),
            "cam_pointing": float(np.mean([b["pointing"]["mean"] for b in by])),
            "cam_iou": float(np.mean([b["iou"]["mean"] for b in by])),
            "train_seconds_per_episode": float(np.mean([r["train_seconds"] / r["config"]["train"]["episodes"]
                                                        for r in res])),
        })
        if all("same_patient" in r for r in res):
            row["accuracy_same_patient"] = mean_ci([a for r in res for a in r["same_patient"]["episode_accuracy"]])
        rows.append(row)
    return rows
