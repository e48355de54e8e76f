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
           "curve_figure", "corruption_heatmap", "clever_figure", "curves_csv", "figures_html", "REPO_RESULTS"]

REPO_RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"

Series = dict[str, tuple[list[float], list[float], list[float | None]]]


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def model_reports(workspace: Workspace, model_names: Sequence[str]) -> dict[str, dict[str, dict]]:
    """``{model: {"fgsm"|"pgd"|"clever": report}}`` for the reports that exist."""
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


def curve_series_from_reproduction(summary: Mapping[str, Any], kind: str) -> Series:
    """``{arch: (x, mean, ci95)}`` of ``kind`` (fgsm, pgd, rotation, scale); CI over training seeds."""
    series = {}
    for arch, entry in summary["models"].items():
        if kind in entry:
            stats = entry[kind]["stats"]
            series[arch] = (entry[kind]["x"], [s["mean"] for s in stats], [s.get("ci95") for s in stats])
    return series


def curve_figure(series: Series, title: str, x_title: str, x_scale: float = 1.0):
    """Accuracy (%) curves with shaded 95% CI bands; ``x_scale`` 255 shows ε in /255 units."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    fig = go.Figure()
    palette = qualitative.Plotly
    for i, (name, (x, mean, ci)) in enumerate(series.items()):
        color = palette[i % len(palette)]
        xs = [v * x_scale for v in x]
        ys = [100 * m for m in mean]
        half = [100 * (c or 0.0) for c in ci]
        if any(half):
            fig.add_trace(go.Scatter(x=xs + xs[::-1], y=[y + h for y, h in zip(ys, half)] +
                                     [y - h for y, h in zip(ys, half)][::-1],
                                     fill="toself", line=dict(width=0), fillcolor=color, opacity=0.18,
                                     hoverinfo="skip", showlegend=False, legendgroup=name))
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name, line=dict(color=color),
                                 legendgroup=name))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title="accuracy (%)", yaxis_range=[0, 100],
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
