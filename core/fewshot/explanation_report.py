"""The explanation-check section of ``reproduce fewshot``: pooling over seeds, guided-vs-unguided gains, table.

Input: for every run of the grid, the dict :func:`core.fewshot.explanation_checks.explanation_checks`
returned.  Output rows per (phantom, cue, arm, explainer):

* alignment (Dice, pointing, energy): mean +- 95% CI over the test episodes of all seeds pooled;
* randomisation: Spearman of the maps after the top layer and after all layers are randomised,
  mean over seeds;
* deletion / insertion AUC with their random-order references, pooled over images.

And per (phantom, cue, guided arm, explainer): the alignment gain of the guided arm over the
unguided one trained with the same seed, mean +- 95% Student-t interval over seeds.  This is the
figure that says whether explainers the loss never saw confirm Grad-CAM's alignment gain.
"""

from __future__ import annotations

import numpy as np

from core.fewshot.stats import mean_ci

__all__ = ["summarise_checks", "alignment_gains", "checks_markdown", "explanation_section", "GAIN_METRICS"]

GAIN_METRICS = ("dice", "pointing", "energy")
_LABELS = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "occlusion": "occlusion",
           "integrated_gradients": "Integrated Gradients"}


def _t(values) -> dict:
    from core.robustness.stats import t_interval

    return t_interval(values).to_dict()


def _seed_key(run: dict) -> tuple[int, int]:
    """The run's (data seed, training seed): guided and unguided runs sharing it are paired."""
    return int(run["data_seed"]), int(run["train_seed"])


def _cells(runs: list[dict], checks: list[dict]) -> dict[tuple, list[tuple[tuple[int, int], dict]]]:
    cells: dict[tuple, list[tuple[tuple[int, int], dict]]] = {}
    for run, check in zip(runs, checks):
        cells.setdefault((run["dataset"], run["spurious"], run["arm"]), []).append((_seed_key(run), check))
    return cells


def _layer_mean(entries: list[dict], key: str, index: int) -> float | None:
    values = [e["randomisation"][key][index] for e in entries if "randomisation" in e
              and e["randomisation"][key][index] is not None]
    return float(np.mean(values)) if values else None


def summarise_checks(runs: list[dict], checks: list[dict]) -> list[dict]:
    """One row per (dataset, spurious, arm, explainer), pooled over the seeds of the cell."""
    rows = []
    for (dataset, spurious, arm), per_seed in _cells(runs, checks).items():
        for name in per_seed[0][1]["explainers"]:
            entries = [c["explainers"][name] for _, c in per_seed]
            row = {"dataset": dataset, "spurious": spurious, "arm": arm, "explainer": name,
                   "seeds": [list(s) for s, _ in per_seed]}
            for m in GAIN_METRICS:
                pooled = [v for e in entries for v in e["alignment_episodes"][m]]
                row[m] = mean_ci(pooled) if pooled else None
                row[f"{m}_per_seed"] = [e["alignment"][m]["mean"] if e["alignment"][m] else None for e in entries]
            if "randomisation" in entries[0]:
                row["randomisation_layers"] = entries[0]["randomisation"]["layers"]
                row["spearman_per_layer"] = [_layer_mean(entries, "spearman", i)
                                             for i in range(len(row["randomisation_layers"]))]
                row["spearman_top"], row["spearman_all"] = row["spearman_per_layer"][0], row["spearman_per_layer"][-1]
                row["ssim_all"] = _layer_mean(entries, "ssim", -1)
            if entries[0]["faithfulness"]:
                for key in ("deletion", "insertion", "deletion_random", "insertion_random"):
                    row[f"{key}_auc"] = mean_ci([v for e in entries for v in e["faithfulness"]["auc_images"][key]])
            row["seconds"] = float(np.mean([e["seconds"] for e in entries]))
            rows.append(row)
    return rows


def alignment_gains(runs: list[dict], checks: list[dict]) -> list[dict]:
    """Guided minus unguided alignment, paired by seed, per (dataset, cue, guided arm, explainer)."""
    cells = _cells(runs, checks)
    gains = []
    for (dataset, spurious, arm), per_seed in cells.items():
        base = dict(cells.get((dataset, spurious, "unguided"), []))
        if arm == "unguided" or not base:
            continue
        paired = [(s, c, base[s]) for s, c in per_seed if s in base
                  and all(x["explainers"][n]["alignment"]["dice"] for x in (c, base[s]) for n in c["explainers"])]
        if not paired:
            continue
        for name in paired[0][1]["explainers"]:
            row = {"dataset": dataset, "spurious": spurious, "arm": arm, "explainer": name,
                   "seeds": [list(s) for s, _, _ in paired]}
            for m in GAIN_METRICS:
                diffs = [g["explainers"][name]["alignment"][m]["mean"] - u["explainers"][name]["alignment"][m]["mean"]
                         for _, g, u in paired]
                row[m] = {**_t(diffs), "per_seed": diffs}
            gains.append(row)
    return gains


def _fmt(ci: dict | None, digits: int = 3) -> str:
    if not ci or ci.get("mean") is None:
        return "n/a"
    if not ci.get("ci95"):
        return f"{ci['mean']:.{digits}f}"
    return f"{ci['mean']:.{digits}f} ± {ci['ci95']:.{digits}f}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def checks_markdown(rows: list[dict], gains: list[dict], note: str = "") -> str:
    """The section's two tables: per-arm checks and guided-minus-unguided alignment gains."""
    lines = ["## Explanations checked independently", ""]
    if note:
        lines += [note, ""]
    lines += ["| Phantom | Cue | Training | Explainer | Dice | Pointing | Energy in ROI | Spearman top / all layers "
              "random | Deletion AUC (random) | Insertion AUC (random) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        faith = ["n/a", "n/a"]
        if "deletion_auc" in r:
            faith = [f"{_fmt(r[k + '_auc'])} ({r[k + '_random_auc']['mean']:.3f})" for k in ("deletion", "insertion")]
        lines.append(f"| {r['dataset'].replace('-phantom', '')} | {'yes' if r['spurious'] else 'no'} | {r['arm']} | "
                     f"{_LABELS.get(r['explainer'], r['explainer'])} | {_fmt(r['dice'])} | {_fmt(r['pointing'], 2)} | "
                     f"{_fmt(r['energy'])} | {_num(r.get('spearman_top'))} / {_num(r.get('spearman_all'))} | "
                     f"{faith[0]} | {faith[1]} |")
    if gains:
        lines += ["", "Alignment gain of guided over unguided training (same seed), mean ± 95% t-interval over seeds:",
                  "", "| Phantom | Cue | Training | Explainer | Δ Dice | Δ Pointing | Δ Energy in ROI |",
                  "|---|---|---|---|---|---|---|"]
        for g in gains:
            lines.append(f"| {g['dataset'].replace('-phantom', '')} | {'yes' if g['spurious'] else 'no'} | {g['arm']} | "
                         f"{_LABELS.get(g['explainer'], g['explainer'])} | {_fmt(g['dice'])} | "
                         f"{_fmt(g['pointing'], 2)} | {_fmt(g['energy'])} |")
    return "\n".join(lines)


def explanation_section(runs: list[dict], results: list[dict], sizes) -> tuple[str, dict]:
    """(markdown section, JSON summary) from the grid's runs and their results' ``explanation_checks``."""
    from dataclasses import asdict

    checks = [r["explanation_checks"] for r in results]
    rows, gains = summarise_checks(runs, checks), alignment_gains(runs, checks)
    first = checks[0]
    note = (f"Every explainer explains the episode log-probability of the true class for the queries of the first "
            f"{sizes.episodes} test episodes per seed (the same episodes as the Grad-CAM column above), each against "
            f"its own episode's prototypes. Signed maps (occlusion, IG) enter the alignment metrics as their positive "
            f"part divided by the maximum. Occlusion: {sizes.occlusion_patch}-px patches, stride "
            f"{sizes.occlusion_stride}; Integrated Gradients: {sizes.ig_steps} Gauss-Legendre steps; both with the "
            f"baseline value {first['baseline']:g} (black). Randomisation: Spearman rank correlation of the maps "
            f"with the trained model's after the top layer and after all layers are re-initialised (cascading, "
            f"{sizes.randomisation_images} queries; low = the explainer depends on the learned weights). "
            f"Deletion/insertion: AUC of the true-class probability as the top-ranked pixels are set to "
            f"{first['baseline']:g} / restored from a {first['baseline']:g} image, {sizes.deletion_steps} steps, "
            f"{sizes.faithfulness_images} queries; the random-order reference is in brackets (deletion: lower than "
            f"random is faithful; insertion: higher). Alignment CIs pool episodes over seeds.")
    summary = {"sizes": asdict(sizes), "map_sign": first["map_sign"], "baseline": first["baseline"],
               "score": first["score"], "rows": rows, "gains": gains}
    return checks_markdown(rows, gains, note), summary
