"""Robustness results for the report page: per-model job reports, reproductions, plotly figures, exports.

Per-model reports are written by the studio's ``attack``/``clever`` jobs
(:func:`core.studio.commands.robustness_argv`); reproductions are the
``equivariance.json`` summaries of ``python -m core reproduce equivariance``
found in the workspace's reports or in the repository's ``docs/results``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from core.workspace import Workspace

__all__ = ["model_reports", "find_reproductions", "curve_series_from_reports", "curve_series_from_reproduction",
           "curve_figure", "corruption_heatmap", "clever_figure", "curves_csv", "figures_html", "REPO_RESULTS",
           "headline_series", "weak_series", "masking_badge", "masking_rows", "clever_minimal_figure",
           "reproduction_check_rows", "paired_rows", "HEADLINE_TITLE"]

#: What the headline curve is, in one line (every figure title that shows it starts with this).
HEADLINE_TITLE = "Worst-case robust accuracy vs ε (per image over every attack; dashed: PGD-10, a weak attack)"

REPO_RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"

Series = dict[str, tuple[list[float], list[float], list[float | None]]]


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def model_reports(workspace: Workspace, model_names: Sequence[str]) -> dict[str, dict[str, dict]]:
    """``{model: {"attack"|"clever"|"transforms": report}}`` for the reports that exist."""
    from core.studio.commands import ROBUSTNESS_RUNS, robustness_dir

    out: dict[str, dict[str, dict]] = {}
    for name in model_names:
        folder = robustness_dir(workspace, name)
        found = {run: doc for run in ROBUSTNESS_RUNS if (doc := _read(folder / f"{run}.json")) is not None}
        if found:
            out[name] = found
    return out


def find_reproductions(workspace: Workspace, extra_roots: Sequence[Path] = (REPO_RESULTS,)) -> dict[str, dict]:
    """``{label: equivariance.json summary}`` from the workspace reports and ``docs/results``."""
    found: dict[str, dict] = {}
    for root, tag in [(workspace.reports, "workspace"), *[(r, "repository") for r in extra_roots]]:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("equivariance.json")):
            doc = _read(path)
            if doc and isinstance(doc.get("models"), dict):
                found[f"{tag}: {path.parent.name}"] = doc
    return found


def curve_series_from_reports(reports: Mapping[str, Mapping[str, dict]], run: str) -> Series:
    """``{model: (x, mean, ci95)}`` of one attack's accuracy-vs-ε curve (CI over attack seeds)."""
    series = {}
    for model, docs in reports.items():
        curve = docs.get(run, {}).get("curve")
        if curve:
            series[model] = (curve["x"], curve["mean"], curve["ci95"])
    return series


def headline_series(reports: Mapping[str, Mapping[str, dict]]) -> Series:
    """``{model: (x, mean, ci95)}`` of the worst case of each model's ``attack`` report (the headline)."""
    return curve_series_from_reports(reports, "attack")


def weak_series(reports: Mapping[str, Mapping[str, dict]], name: str = "pgd-10") -> Series:
    """The weak reference (``pgd-10`` or ``fgsm``) of each model's ``attack`` report."""
    series = {}
    for model, docs in reports.items():
        curve = docs.get("attack", {}).get("weak", {}).get(name)
        if curve:
            series[model] = (curve["x"], curve["mean"], curve["ci95"])
    return series


def masking_badge(report: Mapping[str, Any] | None) -> tuple[str, str]:
    """``(text, colour)`` of a model's badge: "suspicious" when any masking check failed."""
    checks = (report or {}).get("masking_checks") or []
    if not checks:
        return "masking not checked", "gray"
    if any(c.get("passed") is False for c in checks):
        return "suspicious", "red"
    if any(c.get("passed") is None for c in checks):
        return "checks passed (some skipped)", "orange"
    return "checks passed", "green"


def masking_rows(reports: Mapping[str, Mapping[str, dict]]) -> list[dict[str, str]]:
    """One table row per model: its badge and each check's status with its numbers in words."""
    rows = []
    for model, docs in reports.items():
        report = docs.get("attack")
        if not report:
            continue
        row = {"model": model, "verdict": masking_badge(report)[0]}
        for check in report.get("masking_checks", []):
            row[check["name"]] = f"{check['status']}: {check['detail']}"
        rows.append(row)
    return rows


def curve_series_from_reproduction(summary: Mapping[str, Any], kind: str) -> Series:
    """``{arch: (x, mean, ci95)}`` of ``kind`` (fgsm, pgd, rotation, scale); CI over training seeds."""
    series = {}
    for arch, entry in summary["models"].items():
        if kind in entry:
            stats = entry[kind]["stats"]
            series[arch] = (entry[kind]["x"], [s["mean"] for s in stats], [s.get("ci95") for s in stats])
    return series


def curve_figure(series: Series, title: str, x_title: str, x_scale: float = 1.0, weak: Series | None = None,
                 y_title: str = "accuracy (%)"):
    """Accuracy (%) curves with shaded 95% CI bands; ``x_scale`` 255 shows ε in /255 units.

    ``weak`` curves (e.g. PGD-10) are drawn dashed in their model's colour and
    named "(weak)", so they are never mistaken for the headline.  Values in
    [0, 1] are shown ×100 on the ``y_title`` axis; text x values (e.g. a
    ``"random"`` angle) make a categorical axis and are not scaled.
    """
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    fig = go.Figure()
    palette = qualitative.Plotly
    for i, (name, (x, mean, ci)) in enumerate(series.items()):
        color = palette[i % len(palette)]
        xs = [v * x_scale if isinstance(v, (int, float)) else v for v in x]
        ys = [100 * m for m in mean]
        half = [100 * (c or 0.0) for c in ci]
        if any(half):
            fig.add_trace(go.Scatter(x=xs + xs[::-1], y=[y + h for y, h in zip(ys, half)] +
                                     [y - h for y, h in zip(ys, half)][::-1],
                                     fill="toself", line=dict(width=0), fillcolor=color, opacity=0.18,
                                     hoverinfo="skip", showlegend=False, legendgroup=name))
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name, line=dict(color=color),
                                 legendgroup=name))
        if weak and name in weak:
            wx, wmean, _ = weak[name]
            fig.add_trace(go.Scatter(x=[v * x_scale for v in wx], y=[100 * m for m in wmean], mode="lines",
                                     name=f"{name} PGD-10 (weak)", line=dict(color=color, dash="dash"),
                                     opacity=0.6, legendgroup=name))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, yaxis_range=[0, 100],
                      height=420, margin=dict(l=10, r=10, t=50, b=10),
                      # Below the axis: six models wrap to two legend rows, which above the plot cover the title.
                      legend=dict(orientation="h", yanchor="top", y=-0.22, x=0))
    return fig


def _mean(cell: Any) -> float | None:
    return cell.get("mean") if isinstance(cell, Mapping) else cell


def corruption_heatmap(table: Mapping[str, Mapping[str, Any]], title: str):
    """Corruption × severity accuracy (%) heat map.

    ``table`` is ``{corruption: {severity: accuracy}}`` (one model) or
    ``{corruption: {severity: {"mean", "ci95"}}}`` (a reproduction over seeds).
    """
    import plotly.graph_objects as go

    names = list(table)
    severities = sorted({s for row in table.values() for s in row}, key=float)
    z = [[None if _mean(table[n].get(s)) is None else 100 * _mean(table[n][s]) for s in severities]
         for n in names]
    text = [[("" if v is None else f"{v:.0f}") for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=[f"severity {s}" for s in severities], y=names, text=text,
                               texttemplate="%{text}", colorscale="Viridis", zmin=0, zmax=100,
                               colorbar=dict(title="acc %")))
    fig.update_layout(title=title, height=max(300, 28 * len(names) + 120), margin=dict(l=10, r=10, t=50, b=10))
    return fig


def clever_figure(scores: Mapping[str, Sequence[float]], title: str = "CLEVER scores (per image)"):
    """Box plot with every point: the distribution of CLEVER scores per model."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, values in scores.items():
        fig.add_trace(go.Box(y=list(values), name=name, boxpoints="all", jitter=0.4, pointpos=0))
    fig.update_layout(title=title, yaxis_title="estimated minimal L2 distortion", height=360,
                      margin=dict(l=10, r=10, t=50, b=10), showlegend=False)
    return fig


def clever_minimal_figure(pairs: Mapping[str, Sequence[Mapping[str, float | None]]]):
    """CLEVER score (an estimated lower bound) against the minimal perturbation an attack found (an upper bound).

    ``pairs`` is ``{model: [{"clever": c, "minimal": m or None}]}``; points above
    the diagonal are images where CLEVER overestimates robustness.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    top = 0.0
    for name, items in pairs.items():
        found = [p for p in items if p.get("minimal") is not None]
        top = max([top] + [max(p["clever"], p["minimal"]) for p in found])
        fig.add_trace(go.Scatter(x=[p["minimal"] for p in found], y=[p["clever"] for p in found], mode="markers",
                                 name=name))
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="CLEVER = minimal found",
                             line=dict(color="gray", dash="dot")))
    fig.update_layout(title="CLEVER vs the minimal perturbation found (above the line: CLEVER overestimates)",
                      xaxis_title="minimal perturbation found by an attack", yaxis_title="CLEVER score",
                      height=380, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def reproduction_check_rows(summary: Mapping[str, Any]) -> list[dict[str, str]]:
    """Per architecture: each masking check as "passed k / failed k" over the seeds."""
    rows = []
    for arch, entry in summary["models"].items():
        checks = entry.get("masking_checks")
        if checks is None:
            continue
        row = {"model": arch, "verdict": "suspicious" if any(c["fail"] for c in checks.values()) else "checks passed"}
        for name, c in checks.items():
            row[name] = f"pass {c['pass']} / fail {c['fail']}" + (f" / skipped {c['skipped']}" if c["skipped"] else "")
        rows.append(row)
    return rows


def paired_rows(summary: Mapping[str, Any], kinds: Sequence[str] = ("worst", "pgd")) -> list[dict[str, str]]:
    """Per architecture and ε: the paired difference to the baseline (pp, mean ± 95% CI) per curve kind."""
    rows = []
    for arch, entry in summary["models"].items():
        paired = entry.get("paired_vs_baseline")
        if not paired:
            continue
        row = {"model": arch}
        for kind in kinds:
            label = "worst case" if kind == "worst" else f"{kind} (weak)"
            for x, ci in zip(entry[kind]["x"], paired[kind]):
                if x > 0 and ci.get("mean") is not None:
                    half = "" if ci.get("ci95") is None else f" ± {100 * ci['ci95']:.1f}"
                    row[f"{label} {x * 255:.0f}/255"] = f"{100 * ci['mean']:+.1f}{half}"
        rows.append(row)
    return rows


def curves_csv(curves: Mapping[str, Series]) -> str:
    """Long-format CSV: curve, model, x, accuracy, ci95."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["curve", "model", "x", "accuracy", "ci95"])
    for curve, series in curves.items():
        for model, (x, mean, ci) in series.items():
            for xv, m, c in zip(x, mean, ci):
                writer.writerow([curve, model, xv, m, "" if c is None else c])
    return buf.getvalue()


def figures_html(figures: Sequence[Any], title: str = "EquiGuard robustness report") -> str:
    """One self-contained HTML page (plotly.js inlined once, so it opens offline)."""
    parts = [fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figures)]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<h1>{title}</h1>" + "\n".join(parts) + "</body></html>")
