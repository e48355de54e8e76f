"""Aggregation, tables and figures of ``reproduce equivariance`` (one dict per (arch, seed) run in, summary out).

Everything is mean ± 95% Student-t interval over training seeds; differences
to the baseline are *paired* (same seed, same data split and test images), so
their interval is the one to read when ranking a model against the baseline.
The worst case is the headline everywhere; PGD-10 and FGSM are shown only to
compare with the paper, labelled as the weak attacks they are.
"""

from __future__ import annotations

from typing import Any

__all__ = ["aggregate", "markdown_tables", "figures_html", "CURVE_KINDS"]

#: Curves of every run, aggregated over seeds: worst case first (the headline).
CURVE_KINDS = ("worst", "pgd", "fgsm", "rotation", "scale")


def _ci(values) -> dict:
    from core.robustness import t_interval

    return t_interval(values).to_dict()


def _curve_rows(runs: list[dict], kind: str):
    import numpy as np

    return np.array([np.mean(r[kind]["per_seed"], axis=0) for r in runs])


def _checks(runs: list[dict]) -> dict:
    """Per check: how many seeds passed, failed or skipped it, and every failure's detail."""
    out: dict[str, dict] = {}
    for r in runs:
        for c in r["masking_checks"]:
            entry = out.setdefault(c["name"], {"pass": 0, "fail": 0, "skipped": 0, "failures": []})
            entry[{"pass": "pass", "FAIL": "fail"}.get(c["status"], "skipped")] += 1
            if c["status"] == "FAIL":
                entry["failures"].append({"seed": r["seed"], "detail": c["detail"]})
    return out


def aggregate(runs: list[dict], s) -> dict:
    """``{arch: summary}`` over the seeds of every architecture, with paired differences to the baseline."""
    import numpy as np

    models: dict[str, dict] = {}
    by_arch = {arch: sorted((r for r in runs if r["arch"] == arch), key=lambda r: r["seed"]) for arch in s.archs}
    base = by_arch.get("baseline") or []
    for arch, mine in by_arch.items():
        if not mine:
            continue
        entry: dict[str, Any] = {"seeds": [r["seed"] for r in mine], "n_params": mine[0]["n_params"]}
        entry["clean_acc"] = _ci([r["clean_acc"] for r in mine])
        for kind in CURVE_KINDS:
            rows = _curve_rows(mine, kind)
            entry[kind] = {"x": mine[0][kind]["x"], "per_seed": rows.tolist(),
                           "stats": [_ci(rows[:, i]) for i in range(rows.shape[1])]}
        if arch != "baseline" and [r["seed"] for r in base] == entry["seeds"]:
            entry["paired_vs_baseline"] = {}
            for kind in ("worst", "pgd", "fgsm"):
                diff = _curve_rows(mine, kind) - _curve_rows(base, kind)
                entry["paired_vs_baseline"][kind] = [_ci(diff[:, i]) for i in range(diff.shape[1])]
            entry["paired_vs_baseline"]["clean"] = _ci([a["clean_acc"] - b["clean_acc"] for a, b in zip(mine, base)])
        entry["masking_checks"] = _checks(mine)
        entry["suspicious_seeds"] = [r["seed"] for r in mine if r["suspicious"]]
        attribution = [r["worst"]["counts"] for r in mine]
        entry["broken_by"] = [{k: int(sum(a[i][k] for a in attribution)) for k in attribution[0][i]}
                              for i in range(len(attribution[0]))]
        checked = [r["standard_check"] for r in mine if "standard_check" in r]
        if checked:
            entry["standard_check"] = {
                "seeds": [r["seed"] for r in mine if "standard_check" in r], "eps": checked[0]["eps"],
                "standard_accuracy": np.mean([c["standard_accuracy"] for c in checked], axis=0).tolist(),
                "worst_accuracy": np.mean([c["worst_accuracy"] for c in checked], axis=0).tolist(),
                "images_only_standard_broke": np.sum([c["images_only_standard_broke"] for c in checked],
                                                     axis=0).tolist()}
        entry["corruption_mean"] = _ci([r["corruption"]["mean"] for r in mine])
        names = list(mine[0]["corruption"]["table"])
        sev = [str(v) for v in mine[0]["corruption"]["severities"]]
        entry["corruption_table"] = {n: {k: _ci([r["corruption"]["table"][n][k] for r in mine]) for k in sev}
                                     for n in names}
        entry["clever_l2"] = _ci([r["clever"]["mean"] for r in mine])
        pairs = [p for r in mine for p in r["clever_vs_minimal"]["pairs"]]
        over = [p["minimal"] is not None and p["clever"] > p["minimal"] for p in pairs]
        entry["clever_vs_minimal"] = {
            "n_images": len(pairs), "overestimates": int(sum(over)),
            "overestimate_rate": float(np.mean(over)) if pairs else None,
            "per_seed_rate": _ci([r["clever_vs_minimal"]["overestimate_rate"] for r in mine]),
            "minimal_l2": _ci([np.mean(found) for r in mine
                               if (found := [p["minimal"] for p in r["clever_vs_minimal"]["pairs"]
                                             if p["minimal"] is not None])]),
            "pairs": pairs}
        if all("drift" in r for r in mine):
            entry["drift_dice_distance"] = _ci([r["drift"]["dice_distance_mean"] for r in mine])
            entry["drift_self_distance"] = _ci([r["drift"]["self_distance_mean"] for r in mine])
            entry["drift_spearman"] = _ci([r["drift"]["spearman_mean"] for r in mine
                                           if r["drift"]["spearman_mean"] is not None])
        entry["train_seconds"] = float(np.mean([r["train_seconds"] for r in mine]))
        entry["eval_seconds"] = float(np.mean([r["eval_seconds"] for r in mine]))
        models[arch] = entry
    return models


def _fmt(ci: dict | None, scale: float = 100.0, digits: int = 1, signed: bool = False) -> str:
    if not ci or ci.get("mean") is None:
        return "n/a"
    sign = "+" if signed else ""
    text = f"{ci['mean'] * scale:{sign}.{digits}f}"
    if ci.get("ci95") is None:
        return text
    text += f" ± {ci['ci95'] * scale:.{digits}f}"
    # A paired difference whose interval excludes 0.
    if signed and abs(ci["mean"]) > ci["ci95"]:
        text += " *"
    return text


def _eps_label(e: float) -> str:
    n = e * 255
    return f"{round(n)}/255" if abs(n - round(n)) < 1e-6 else f"{e:.3g}"


def _check_cell(checks: dict) -> str:
    fails = {name: c["fail"] for name, c in checks.items() if c["fail"]}
    ran = sum(c["pass"] + c["fail"] for c in checks.values())
    if fails:
        return "**suspicious**: " + ", ".join(f"{n} failed ×{k}" for n, k in fails.items())
    return f"all passed ({ran} checks)"


def markdown_tables(models: dict, s) -> str:
    """The headline table (worst case), paired differences, masking checks, then the other measurements."""
    eps = [e for e in s.eps if e > 0]
    idx = {e: s.eps.index(e) for e in eps}
    n = len(s.seeds)
    lines = ["**Worst case** (per-image worst over the ensemble and every other attack; the headline)", ""]
    head = ["Model", "Clean"] + [f"Worst {_eps_label(e)}" for e in eps] + \
        [f"PGD-10 {_eps_label(e)} (weak)" for e in eps] + ["Masking checks", "CLEVER > minimal"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for arch, m in models.items():
        cvm = m["clever_vs_minimal"]
        rate = "n/a" if cvm["overestimate_rate"] is None else \
            f"{cvm['overestimates']}/{cvm['n_images']} ({100 * cvm['overestimate_rate']:.0f}%)"
        cells = [arch, _fmt(m["clean_acc"])] + [_fmt(m["worst"]["stats"][idx[e]]) for e in eps] + \
            [_fmt(m["pgd"]["stats"][idx[e]]) for e in eps] + [_check_cell(m["masking_checks"]), rate]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "**Paired differences to the baseline** (same seed and split; percentage points; "
              "* = the 95% CI excludes 0)", ""]
    head = ["Model", "Δ clean"] + [f"Δ worst {_eps_label(e)}" for e in eps] + \
        [f"Δ PGD-10 {_eps_label(e)} (weak)" for e in eps]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for arch, m in models.items():
        paired = m.get("paired_vs_baseline")
        if paired is None:
            continue
        cells = [arch, _fmt(paired["clean"], signed=True)] + \
            [_fmt(paired["worst"][idx[e]], signed=True) for e in eps] + \
            [_fmt(paired["pgd"][idx[e]], signed=True) for e in eps]
        lines.append("| " + " | ".join(cells) + " |")
    checked = {arch: m["standard_check"] for arch, m in models.items() if "standard_check" in m}
    if checked:
        first = next(iter(checked.values()))
        lines += ["", f"**Standard vs {s.worst_version} budget** (seeds {', '.join(map(str, first['seeds']))}): "
                  "robust accuracy of the standard ensemble alone, of the worst case above, and the images only "
                  "the standard ensemble broke", ""]
        head = ["Model"] + [f"{label} {_eps_label(e)}" for e in first["eps"]
                            for label in ("standard", "worst case", "only standard broke")]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for arch, c in checked.items():
            cells = [arch] + [v for i in range(len(c["eps"])) for v in (
                f"{100 * c['standard_accuracy'][i]:.1f}", f"{100 * c['worst_accuracy'][i]:.1f}",
                str(c["images_only_standard_broke"][i]))]
            lines.append("| " + " | ".join(cells) + " |")
    rot_i = [i for i, a in enumerate(s.angles) if a != 0]
    pick = [e for e in eps if abs(e - 8 / 255) < 1e-9] or eps[-1:]
    head = (["Model"] + [f"FGSM {_eps_label(e)} (weak)" for e in pick] + [f"Rot {s.angles[i]:g}°" for i in rot_i[-2:]]
            + ["Corruption mean", "CLEVER L2", "Minimal L2 (attack)", "CAM drift (1−Dice)"])
    lines += ["", "**Other measurements**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for arch, m in models.items():
        cells = [arch] + [_fmt(m["fgsm"]["stats"][idx[e]]) for e in pick]
        cells += [_fmt(m["rotation"]["stats"][i]) for i in rot_i[-2:]]
        cells += [_fmt(m["corruption_mean"]), _fmt(m["clever_l2"], 1.0, 3), _fmt(m["clever_vs_minimal"]["minimal_l2"], 1.0, 3),
                  _fmt(m.get("drift_dice_distance"), 1.0, 3)]
        lines.append("| " + " | ".join(cells) + " |")
    budget = ("APGD-CE → APGD-T (9 targets) → FAB-T → Square (5000 queries), 100 steps" if s.worst_version == "standard"
              else "APGD-CE → APGD-T (3 targets) → Square (1000 queries), 50 steps")
    lines += ["", f"Accuracy in % on {s.eval_images} {s.dataset} test images, mean ± 95% t-interval over {n} "
              f"training seeds; ε in pixel units, L∞. Worst case: the {s.worst_version} ensemble ({budget}"
              + (f"; here {s.worst_steps} steps" if s.worst_steps else "")
              + (f", {s.worst_queries} queries" if s.worst_queries else "")
              + f") plus PGD-{s.pgd_steps}, FGSM and the transfer attack, per image. Masking checks per seed: accuracy "
              f"≤ 1% at {_eps_label(s.large_eps)}, PGD-{s.pgd_steps} → APGD-CE → ensemble non-increasing, Square and "
              f"transfer (from a baseline trained with another seed) break nothing the white-box attacks missed, "
              f"≤ 1% zero input gradients. CLEVER L2 (R = {s.clever_radius:g}) and the minimal L2 perturbation "
              f"found by bisection with the fast ensemble on {s.clever_images} images per model and seed."]
    if s.cifar10c_root is not None:
        lines.append(f"Corruption mean over the CIFAR-10-C files (first {s.eval_images} images of every "
                     f"severity block, severities {', '.join(str(v) for v in s.severities)}).")
    return "\n".join(lines)


def figures_html(models: dict, s) -> str:
    """Plotly figures: worst case (headline) with PGD-10 dashed, FGSM, rotation, scale, CLEVER vs minimal."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    parts = []
    specs = [("worst", "Worst-case robust accuracy vs ε (dashed: PGD-10, a weak attack)", "ε (pixel units)"),
             ("fgsm", "FGSM accuracy vs ε (weak attack, for comparison with the paper)", "ε (pixel units)"),
             ("rotation", "Accuracy vs rotation angle", "degrees"), ("scale", "Accuracy vs scale factor", "factor")]
    for i, (kind, title, xlabel) in enumerate(specs):
        fig = go.Figure()
        for j, (arch, m) in enumerate(models.items()):
            color = qualitative.Plotly[j % len(qualitative.Plotly)]
            means = [100 * st["mean"] for st in m[kind]["stats"]]
            errs = [100 * (st["ci95"] or 0.0) for st in m[kind]["stats"]]
            fig.add_trace(go.Scatter(x=m[kind]["x"], y=means, name=arch, mode="lines+markers", line=dict(color=color),
                                     error_y={"type": "data", "array": errs, "visible": True}))
            if kind == "worst":
                fig.add_trace(go.Scatter(x=m["pgd"]["x"], y=[100 * st["mean"] for st in m["pgd"]["stats"]],
                                         name=f"{arch} PGD-10 (weak)", mode="lines",
                                         line=dict(color=color, dash="dash"), opacity=0.6))
        fig.update_layout(title=f"{title} — mean ± 95% CI over {len(s.seeds)} seeds",
                          xaxis_title=xlabel, yaxis_title="accuracy (%)", template="plotly_white")
        # plotly.js inlined once: the report must open on an offline machine.
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    fig = go.Figure()
    top = 0.0
    for arch, m in models.items():
        pairs = [p for p in m["clever_vs_minimal"]["pairs"] if p["minimal"] is not None]
        top = max([top] + [max(p["clever"], p["minimal"]) for p in pairs])
        fig.add_trace(go.Scatter(x=[p["minimal"] for p in pairs], y=[p["clever"] for p in pairs], mode="markers",
                                 name=arch))
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="CLEVER = minimal",
                             line=dict(color="gray", dash="dot")))
    fig.update_layout(title="CLEVER (estimated lower bound) vs minimal L2 perturbation found (upper bound): "
                            "points above the line overestimate robustness",
                      xaxis_title="minimal L2 perturbation found", yaxis_title="CLEVER L2 score",
                      template="plotly_white")
    parts.append(fig.to_html(full_html=False, include_plotlyjs=False))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Equivariance reproduction</title></head>"
            "<body>" + "\n".join(parts) + "</body></html>")
