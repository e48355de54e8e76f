"""Which CAM normalisation and which Grad-CAM order should guided training use? (``reproduce fewshot-normalisation``)

Grid: {brain, CXR phantom} x {no cue, corner cue} x {unguided, Dice guidance
with each of :data:`core.explain.CAM_NORMALISATIONS` x {first, second order}}
x seeds, on the reproduction's set-up (conv4 width 32 at 64x64, 150 training
episodes, alpha 1, log-probability CAM target, 3-way 5-shot 5-query).  Seed
``s`` is both the data and the training seed of a run; every run of one seed
is evaluated on the same patient-disjoint test episodes, so arms are paired.
Alignment is measured the same way for every arm (min-max Grad-CAM with the
log-probability target), whatever normalisation the arm trained with.
Phantoms are synthetic, NOT clinical data.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from core.atomic import write_text_atomic
from core.explain.base import CAM_NORMALISATIONS
from core.fewshot.experiment import write_json
from core.fewshot.reproduction import ALPHA, DATASETS, FULL, QUICK, make_run
from core.fewshot.runner import pool_cells, run_grid
from core.progress import ProgressCallback

__all__ = ["ARMS", "REFERENCE", "grid", "paired_differences", "markdown_table", "normalisation_study"]

ORDERS = {"1st": True, "2nd": False}
#: arm name -> TrainConfig overrides.
ARMS: dict[str, dict] = {"unguided": {"guidance": "none"}}
ARMS.update({f"{order} order, {norm}": {"guidance": "dice", "cam_score": "log_prob", "first_order": first,
                                         "cam_norm": norm}
             for order, first in ORDERS.items() for norm in CAM_NORMALISATIONS})
#: The library default before this study: differences are taken against it.
REFERENCE = "2nd order, minmax"
QUICK_ARMS = ("unguided", REFERENCE, "1st order, sum")


def grid(quick: bool, seeds: list[int]) -> list[dict]:
    sizes = QUICK if quick else FULL
    arms = QUICK_ARMS if quick else tuple(ARMS)
    return [make_run(dataset, spurious, arm, ARMS[arm], s, s, sizes)
            for dataset in DATASETS for spurious in (False, True) for arm in arms for s in seeds]


def paired_differences(runs: list[dict], results: list[dict], reference: str = REFERENCE) -> dict[tuple, dict]:
    """Per (phantom, cue, arm): accuracy minus the reference arm's, per seed and over paired test episodes.

    Runs of one seed share data and test episodes, so the episode-level
    difference is paired; its CI covers episode sampling only, the per-seed
    differences show the training spread.
    """
    index = {(r["dataset"], r["spurious"], r["arm"], r["data_seed"]): i for i, r in enumerate(runs)}
    out: dict[tuple, dict] = {}
    for (dataset, spurious, arm, seed), i in index.items():
        ref = index.get((dataset, spurious, reference, seed))
        if ref is None:
            continue
        cell = out.setdefault((dataset, spurious, arm), {"per_seed": [], "episodes": []})
        cell["per_seed"].append(results[i]["accuracy"]["mean"] - results[ref]["accuracy"]["mean"])
        cell["episodes"] += list(np.subtract(results[i]["episode_accuracy"], results[ref]["episode_accuracy"]))
    for cell in out.values():
        diffs = np.asarray(cell.pop("episodes"))
        cell["mean"] = float(diffs.mean())
        cell["ci95"] = float(1.96 * diffs.std(ddof=1) / np.sqrt(len(diffs))) if len(diffs) > 1 else 0.0
    return out


def markdown_table(rows: list[dict], diffs: dict[tuple, dict]) -> str:
    lines = ["| Phantom | Cue | Training | Accuracy % (95% CI) | per seed % | Δ acc. vs "
             f"{REFERENCE} (pts, 95% CI) | CAM-ROI Dice (95% CI) | Energy in ROI (95% CI) | Pointing |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        acc, dice, energy = r["accuracy"], r["cam_dice"], r["cam_energy_ci"]
        d = diffs.get((r["dataset"], r["spurious"], r["arm"]))
        delta = "–" if d is None or r["arm"] == REFERENCE else (
            f"{100 * d['mean']:+.1f} ± {100 * d['ci95']:.1f} ("
            + "/".join(f"{100 * v:+.0f}" for v in d["per_seed"]) + ")")
        per_seed = "/".join(f"{100 * v:.0f}" for v in r["accuracy_per_run"])
        lines.append(f"| {r['dataset'].replace('-phantom', '')} | {'corner' if r['spurious'] else 'none'} | "
                     f"{r['arm']} | {100 * acc['mean']:.1f} ± {100 * acc['ci95']:.1f} | {per_seed} | {delta} | "
                     f"{dice['mean']:.3f} ± {dice['ci95']:.3f} | {energy['mean']:.3f} ± {energy['ci95']:.3f} | "
                     f"{r['cam_pointing']:.2f} |")
    return "\n".join(lines)


def normalisation_study(out: Path, quick: bool = False, seeds: list[int] | None = None, workers: int = 2,
                        threads: int = 1, progress: ProgressCallback | None = None) -> dict:
    """Run the study's grid, write ``results.json`` and ``results.md`` into ``out``, return the summary."""
    seeds = list(seeds) if seeds else ([0] if quick else [0, 1, 2])
    runs = grid(quick, seeds)
    start = time.perf_counter()
    results = run_grid(runs, out / "runs", workers, threads, progress)
    rows = pool_cells(runs, results)
    diffs = paired_differences(runs, results)
    sizes = QUICK if quick else FULL
    summary = {
        "synthetic_data": True, "quick": quick, "seeds": seeds, "alpha": ALPHA, "sizes": asdict(sizes),
        "reference": REFERENCE, "wall_seconds": time.perf_counter() - start, "arms": ARMS, "rows": rows,
        "differences": [{"dataset": k[0], "spurious": k[1], "arm": k[2], **v} for k, v in diffs.items()],
        "runs": [{"name": r["name"], "seed": r["data_seed"], "accuracy": res["accuracy"],
                  "alignment_by_score": res["alignment_by_score"], "train_seconds": res["train_seconds"]}
                 for r, res in zip(runs, results)],
    }
    write_json(out / "results.json", summary)
    note = ("Phantoms are synthetic, NOT clinical data. Accuracy: mean ± 95% CI over all test episodes of all seeds "
            f"({sizes.eval_episodes} patient-disjoint episodes per seed); seeds {seeds} (each both data and training "
            f"seed). Δ: paired over the same test episodes (CI: episode sampling only; per-seed values in brackets). "
            f"CAM-ROI Dice and energy: min-max Grad-CAM with the log-probability target, {sizes.cam_episodes} test "
            f"episodes per seed, for every arm. alpha = {ALPHA}, {sizes.episodes} training episodes.")
    md = (f"# CAM normalisation and Grad-CAM order ({'quick' if quick else 'full'})\n\n{note}\n\n"
          f"{markdown_table(rows, diffs)}\n")
    write_text_atomic(out / "results.md", md)
    summary["markdown"] = md
    return summary
