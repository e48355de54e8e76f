"""Markdown tables of ``reproduce equiguard``: every condition, then the paired differences.

Accuracies are shown in percent, Dice and pointing game as fractions; every
cell is ``mean ± half-width of the 95% t-interval over seeds``.  In the
difference tables a ``*`` marks an interval that excludes 0 (with one seed
there is no interval and no mark).
"""

from __future__ import annotations

from typing import Sequence

__all__ = ["metric_header", "format_interval", "conditions_table", "differences_tables", "markdown_report"]

_SHORT = {"brain-phantom": "brain", "cxr-phantom": "CXR"}


def metric_header(name: str) -> str:
    """Column title of a metric of :func:`core.reproduce.equiguard_eval.metric_names`."""
    base, _, at = name.partition("@")
    titles = {"accuracy": "clean acc %", "subset_accuracy": "clean acc % (attacked queries)", "dice": "CAM-ROI Dice", "pointing": "pointing",
              "attack_accuracy": "attack acc %", "attack_dice": "attack Dice", "rot90_accuracy": "rot 90° acc %",
              "rot_random_accuracy": "rot random acc %", "rescale_accuracy": "rescale acc %"}
    title = titles.get(base, base)
    return f"{title} ε={at}" if base.startswith("attack") else (f"{title} ×{at}" if at else title)


def format_interval(ci: dict | None, name: str, signed: bool = False) -> str:
    """``81.2 ± 3.4`` (accuracy, percent) or ``0.312 ± 0.020``; ``n/a`` when nothing was measured."""
    from core.reproduce.equivariance_report import _fmt

    base = name.partition("@")[0]
    scale, digits = (100.0, 1) if base.endswith("accuracy") else (1.0, 3 if base.endswith("dice") else 2)
    return _fmt(ci, scale, digits, signed)


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def conditions_table(rows: list[dict], names: Sequence[str]) -> str:
    """Every (phantom, cue, backbone, training) with each metric over seeds."""
    head = ["phantom", "cue", "backbone", "training", "seeds"] + [metric_header(n) for n in names]
    body = [[_SHORT.get(r["dataset"], r["dataset"]), r["cue"], r["backbone"], r["training"], str(len(r["seeds"]))]
            + [format_interval(r[n], n) for n in names] for r in rows]
    return _table(head, body)


def differences_tables(diffs: list[dict], names: Sequence[str]) -> str:
    """One table per contrast (guided − unguided, symmetry − conv4, Dice − RRR), rows per phantom, cue, level."""
    parts = []
    for contrast in dict.fromkeys(d["contrast"] for d in diffs):
        sel = [d for d in diffs if d["contrast"] == contrast]
        head = ["phantom", "cue", "within", "seeds"] + [metric_header(n) for n in names]
        body = [[_SHORT.get(d["dataset"], d["dataset"]), d["cue"], d["level"], str(len(d["seeds"]))]
                + [format_interval(d[n], n, signed=True) for n in names] for d in sel]
        parts.append(f"### {contrast}\n\n{_table(head, body)}")
    return "\n\n".join(parts)


def markdown_report(summary: dict, rows: list[dict], diffs: list[dict], names: Sequence[str]) -> str:
    """The whole ``results.md``."""
    s = summary["sizes"]
    eps = ", ".join(summary["eps_labels"])
    note = (
        "Phantoms are synthetic, NOT clinical data. "
        f"Seeds {summary['seeds']} (each the data and the training seed of a run; evaluation seed "
        f"{summary['eval_seed']}): all conditions of a seed see the same patients and test episodes. "
        f"{s['patients']} patients ({s['slices']} images each, half for training, half held out), "
        f"{s['size']}×{s['size']} images; backbones of width {s['hidden']}, embedding {s['embed_dim']}; "
        f"{s['episodes']} training episodes (3-way 5-shot 5-query, Adam 1e-3, α = {summary['alpha']}, "
        f"RRR α = {summary['rrr_alpha']}). Clean accuracy: {s['eval_episodes']} patient-disjoint test episodes. "
        f"Dice, pointing, attack, rotation and rescaling: the queries of the first {s['robust_episodes']} of those "
        f"episodes (support clean and upright); attack = per-image worst case of the {s['attack_version']} "
        f"AutoAttack-style ensemble at L∞ ε = {eps} (pixel units); rescaling = mean over factors "
        f"{', '.join(f'{f:g}' for f in s['scales'])}. Each cell: mean ± 95% t-interval over seeds. "
        f"Differences: same-seed pairs only, t-interval over the per-seed differences; * = excludes 0.")
    return (f"# EquiGuard: symmetry priors × expert guidance under attack ({'quick' if summary['quick'] else 'full'})"
            f"\n\n{note}\n\n## Every condition\n\n{conditions_table(rows, names)}\n\n## Paired differences\n\n"
            f"{differences_tables(diffs, names)}\n\nWall time of this invocation: {summary['wall_seconds'] / 60:.1f} min "
            f"({summary['runs_computed']} runs computed, {summary['runs_cached']} from the resume cache); the runs' own "
            f"wall times add up to {summary['run_seconds_total'] / 60:.1f} min.\n")
