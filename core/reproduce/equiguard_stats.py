"""Statistics of ``reproduce equiguard``: every condition over seeds, and paired differences by seed.

Every interval is a two-sided 95% Student-t interval **over seeds**
(:func:`core.robustness.t_interval`): one value per seed, the run's mean over
its test episodes.  A difference is taken only between runs of the *same*
seed (same patients, same test episodes, same attack seeds) and only for
seeds both conditions have; its interval is over those per-seed differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

__all__ = ["CONTRASTS", "Contrast", "condition_rows", "paired_differences", "interval"]


@dataclass(frozen=True)
class Contrast:
    """``a − b`` between two conditions (backbone, training) of the same phantom, cue and seed."""

    name: str
    level: str
    a: tuple[str, str]
    b: tuple[str, str]


def _contrasts() -> tuple[Contrast, ...]:
    from core.reproduce.equiguard_design import SYMMETRY_BACKBONE as SYM

    return (Contrast("guided − unguided", "conv4", ("conv4", "dice"), ("conv4", "unguided")),
            Contrast("guided − unguided", SYM, (SYM, "dice"), (SYM, "unguided")),
            Contrast(f"{SYM} − conv4", "unguided", (SYM, "unguided"), ("conv4", "unguided")),
            Contrast(f"{SYM} − conv4", "dice", (SYM, "dice"), ("conv4", "dice")),
            Contrast("Dice − RRR", "conv4", ("conv4", "dice"), ("conv4", "rrr")))


CONTRASTS: tuple[Contrast, ...] = _contrasts()


def interval(values: Sequence[float | None]) -> dict:
    """``{"mean", "ci95", "n", "values"}`` over the non-missing values (``ci95`` None below 2 values)."""
    from core.robustness import t_interval

    kept = [float(v) for v in values if v is not None]
    ci = t_interval(kept).to_dict() if kept else {"mean": None, "ci95": None, "n": 0}
    return {**ci, "values": [None if v is None else float(v) for v in values]}


def _index(runs: list[dict], metrics: list[dict]) -> dict[tuple, dict]:
    index: dict[tuple, dict] = {}
    for run, m in zip(runs, metrics):
        key = (run["dataset"], run["cue"], run["backbone"], run["training"], run["seed"])
        if key in index:
            raise ValueError(f"two runs of one condition and seed: {key}")
        index[key] = m
    return index


def condition_rows(runs: list[dict], metrics: list[dict], names: Sequence[str]) -> list[dict]:
    """One row per (phantom, cue, backbone, training), in run order: each metric over its seeds."""
    cells: dict[tuple, list[int]] = {}
    for i, r in enumerate(runs):
        cells.setdefault((r["dataset"], r["cue"], r["backbone"], r["training"]), []).append(i)
    rows = []
    for (dataset, cue, backbone, training), members in cells.items():
        members = sorted(members, key=lambda i: runs[i]["seed"])
        row = {"dataset": dataset, "cue": cue, "backbone": backbone, "training": training,
               "seeds": [runs[i]["seed"] for i in members]}
        row.update({name: interval([metrics[i].get(name) for i in members]) for name in names})
        rows.append(row)
    return rows


def paired_differences(runs: list[dict], metrics: list[dict], names: Sequence[str],
                       contrasts: Sequence[Contrast] = CONTRASTS) -> list[dict]:
    """Per (phantom, cue, contrast): each metric's ``a − b`` over the seeds both conditions ran.

    Rows: ``{"contrast", "level", "dataset", "cue", "seeds", metric: interval}``
    where the interval's ``values`` are the per-seed differences (``None``
    where either side lacks the metric).
    """
    index = _index(runs, metrics)
    cells = list(dict.fromkeys((r["dataset"], r["cue"]) for r in runs))
    seeds = sorted({r["seed"] for r in runs})
    rows = []
    for c in contrasts:
        for dataset, cue in cells:
            both = [s for s in seeds if (dataset, cue, *c.a, s) in index and (dataset, cue, *c.b, s) in index]
            if not both:
                continue
            row = {"contrast": c.name, "level": c.level, "a": " ".join(c.a), "b": " ".join(c.b),
                   "dataset": dataset, "cue": cue, "seeds": both}
            for name in names:
                diffs = []
                for s in both:
                    va, vb = index[(dataset, cue, *c.a, s)].get(name), index[(dataset, cue, *c.b, s)].get(name)
                    diffs.append(None if va is None or vb is None else va - vb)
                row[name] = interval(diffs)
            rows.append(row)
    return rows
