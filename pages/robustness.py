"""Robustness report: worst-case accuracy under attack (with gradient-masking checks), rotation, scale,
corruptions; CLEVER next to the minimal perturbation an attack finds."""

import json

import streamlit as st

from pages import _ui
from core.jobs import launch_job
from core.studio import commands
from core.studio import fewshot_robustness_view as fv
from core.studio import robustness_view as rv
from core.studio.registry import list_models

ws = _ui.workspace()
st.title("Robustness report")
st.caption("All evaluation runs as background jobs (`python -m core attack`, `clever`, `reproduce equivariance`, "
           "`fewshot-robustness`). "
           "The headline is the **worst case**: per image over an AutoAttack-style ensemble and every other attack; "
           "PGD-10 and FGSM are weak attacks, shown dashed only to compare with the paper. "
           "ε is in pixel units (shown ×255). Bands are 95% confidence intervals: over attack seeds for "
           "a single model, over training seeds for reproductions.")

models = [m for m in list_models(ws) if m.error is None and m.metrics.get("test_acc") is not None]
names = [m.name for m in models]

# ---------------------------------------------------------------- launch evaluations
with st.expander("Evaluate models (background jobs)", expanded=not rv.model_reports(ws, names)):
    chosen = st.multiselect("Models", names, default=names[:2], key="rb_models")
    runs = st.multiselect("Evaluations", list(commands.ROBUSTNESS_RUNS), default=list(commands.ROBUSTNESS_RUNS),
                          key="rb_runs", help="; ".join(f"{k}: {' '.join(v)}" for k, v in commands.ROBUSTNESS_RUNS.items()))
    c1, c2 = st.columns(2)
    if c1.button("Start evaluation jobs", type="primary", disabled=not (chosen and runs), key="rb_start"):
        for m in (m for m in models if m.name in chosen):
            dataset = m.metrics.get("dataset", "digits")
            for run in runs:
                argv = commands.robustness_argv(ws, m.name, m.path, run, dataset=dataset,
                                                surrogate=commands.surrogate_for(models, m.name, dataset))
                launch_job(ws, "robustness", argv, title=f"{run} {m.name}")
        st.toast("evaluation jobs started")
    st.caption("The transfer check uses another baseline of the registry as surrogate when there is one.")
    if c2.button("Run `reproduce equivariance --quick`", key="rb_repro"):
        launch_job(ws, "reproduce", commands.reproduce_argv(ws, quick=True), title="reproduce equivariance (quick)")
        st.toast("reproduction started")


@st.fragment(run_every=3.0)
def _jobs() -> None:
    _ui.job_table(ws, kinds=("robustness", "reproduce"), key="rb", limit=6)


_jobs()

figures = []
curves: dict[str, dict] = {}
exported: dict[str, object] = {}

# ---------------------------------------------------------------- per-model reports
st.header("Trained models")
reports = rv.model_reports(ws, names)
if not reports:
    st.info("No evaluation reports yet for the registry's models.")
else:
    exported["models"] = reports
    for model, docs in reports.items():
        if "attack" in docs:
            text, color = rv.masking_badge(docs["attack"])
            st.markdown(f"**{model}** :{color}-badge[{text}]")
    headline = rv.headline_series(reports)
    if headline:
        weak = rv.weak_series(reports)
        fig = rv.curve_figure(headline, rv.HEADLINE_TITLE, "ε (/255)", x_scale=255, weak=weak)
        st.plotly_chart(fig, key="rb-worst")
        figures.append(fig)
        curves.update({"worst case (models)": headline, "pgd-10, weak (models)": weak,
                       "fgsm, weak (models)": rv.weak_series(reports, "fgsm")})
        st.markdown("**Gradient-masking checks** (Carlini et al. 2019): a failed check makes the model "
                    "*suspicious*: its robust accuracy is then probably overestimated.")
        st.dataframe(rv.masking_rows(reports), hide_index=True, key="rb-checks")
    cols = st.columns(2)
    for col, kind, title, xlab in ((cols[0], "rotation", "Accuracy vs rotation", "angle (°)"),
                                   (cols[1], "scale", "Accuracy vs scale", "scale factor")):
        series = {m: (d["transforms"][kind]["x"], d["transforms"][kind]["mean"], d["transforms"][kind]["ci95"])
                  for m, d in reports.items() if "transforms" in d}
        if series:
            fig = rv.curve_figure(series, title, xlab)
            col.plotly_chart(fig, key=f"rb-{kind}")
            figures.append(fig)
            curves[f"{kind} (models)"] = series
    with_corr = [m for m, d in reports.items() if "transforms" in d]
    if with_corr:
        pick = st.selectbox("Corruption heat map for", with_corr, key="rb_corr_model")
        corr = reports[pick]["transforms"]["corruption"]
        fig = rv.corruption_heatmap(corr["table"], f"{pick}: accuracy per corruption × severity (%), "
                                                    f"mean {100 * corr['mean']:.1f} %")
        st.plotly_chart(fig, key="rb-corr-model")
        figures.append(fig)
    scores = {m: [img["score"] for img in docs["clever"]["images"]] for m, docs in reports.items() if "clever" in docs}
    if scores:
        cols = st.columns(2)
        fig = rv.clever_figure(scores, "CLEVER L2 scores per image (higher = more robust)")
        cols[0].plotly_chart(fig, key="rb-clever")
        figures.append(fig)
        pairs = {m: docs["clever"]["clever_vs_minimal"]["pairs"] for m, docs in reports.items()
                 if "clever_vs_minimal" in docs.get("clever", {})}
        if pairs:
            fig = rv.clever_minimal_figure(pairs)
            cols[1].plotly_chart(fig, key="rb-clever-minimal")
            figures.append(fig)
    drift = {m: docs["attack"]["drift"] for m, docs in reports.items() if "drift" in docs.get("attack", {})}
    if drift:
        st.markdown("**Grad-CAM drift under the worst case at the largest ε** (1 − soft Dice between clean and "
                    "adversarial maps; the self floor is the value for identical maps)")
        st.table([{"model": m, "ε (/255)": f"{d['eps'] * 255:.1f}",
                   "1 − soft Dice": f"{d['dice_distance_mean']:.3f}", "self floor": f"{d['self_distance_mean']:.3f}",
                   "Spearman": "n/a" if d["spearman_mean"] is None else f"{d['spearman_mean']:.3f}"}
                  for m, d in drift.items()])

# ---------------------------------------------------------------- reproductions
st.header("Paper-1 reproductions")
repros = rv.find_reproductions(ws)
if not repros:
    st.info("No `reproduce equivariance` output found (workspace reports or docs/results).")
else:
    label = st.selectbox("Reproduction", list(repros), key="rb_repro_pick")
    summary = repros[label]
    exported["reproduction"] = summary
    settings = summary.get("settings", {})
    st.caption(f"{settings.get('dataset', '?')}, seeds {settings.get('seeds', '?')} · {summary.get('ci', '')}")
    has_worst = any("worst" in e for e in summary["models"].values())
    if not has_worst:
        st.warning("This reproduction predates the worst-case evaluation: its PGD-10 figures overestimate robustness. "
                   "Run `reproduce equivariance` again for worst-case numbers.")
    cols = st.columns(2)
    specs = [("worst", rv.HEADLINE_TITLE, "ε (/255)", 255), ("fgsm", "FGSM (weak attack): accuracy vs ε", "ε (/255)", 255),
             ("rotation", "Accuracy vs rotation", "angle (°)", 1), ("scale", "Accuracy vs scale", "scale factor", 1)]
    if not has_worst:
        specs[0] = ("pgd", "PGD-10 (weak attack): accuracy vs ε", "ε (/255)", 255)
    for i, (kind, title, xlab, xs) in enumerate(specs):
        series = rv.curve_series_from_reproduction(summary, kind)
        if series:
            weak = rv.curve_series_from_reproduction(summary, "pgd") if kind == "worst" else None
            fig = rv.curve_figure(series, title, xlab, x_scale=xs, weak=weak)
            cols[i % 2].plotly_chart(fig, key=f"rb-repro-{kind}")
            figures.append(fig)
            curves[f"{kind} (reproduction)"] = series
    if has_worst:
        st.markdown("**Gradient-masking checks per architecture** (over the training seeds)")
        st.dataframe(rv.reproduction_check_rows(summary), hide_index=True, key="rb-repro-checks")
        st.markdown("**Paired differences to the baseline** (same seed and split; percentage points, mean ± 95% CI)")
        st.dataframe(rv.paired_rows(summary), hide_index=True, key="rb-repro-paired")
        pairs = {a: e["clever_vs_minimal"]["pairs"] for a, e in summary["models"].items() if "clever_vs_minimal" in e}
        if pairs:
            fig = rv.clever_minimal_figure(pairs)
            st.plotly_chart(fig, key="rb-repro-clever-minimal")
            figures.append(fig)
    archs = [a for a, e in summary["models"].items() if e.get("corruption_table")]
    if archs:
        arch = st.selectbox("Corruption heat map for", archs, key="rb_corr_arch")
        fig = rv.corruption_heatmap(summary["models"][arch]["corruption_table"],
                                    f"{arch}: accuracy per corruption × severity (%)")
        st.plotly_chart(fig, key="rb-corr")
        figures.append(fig)
    if summary.get("markdown"):
        with st.expander("Summary table"):
            st.markdown(summary["markdown"])

# ---------------------------------------------------------------- few-shot models
st.header("Few-shot models")
fs_runs = fv.fewshot_runs(ws)
if not fs_runs:
    st.info("No few-shot runs yet: train a guided and an unguided one on the Few-shot page "
            "(or `python -m core fewshot`).")
else:
    fs_names = [r.name for r in fs_runs]
    fs_reports, fs_problems = fv.fewshot_reports(ws, fs_runs)
    with st.expander("Evaluate few-shot runs (background jobs)", expanded=not fs_reports):
        st.caption("Each run is evaluated on its own held-out test episodes (its evaluation seed; support and query "
                   "from different patients when the run was evaluated so): prototypes from the clean support set, only the queries perturbed. "
                   "Worst case = the AutoAttack-style ensemble (fast budget) against that episode's prototypes.")
        fs_chosen = st.multiselect("Few-shot runs", fs_names, default=fs_names[:2], key="rb_fs_runs")
        c1, c2 = st.columns(2)
        fs_mode = c1.selectbox("Attack region", list(fv.ROI_MODE_CHOICES), key="rb_fs_mode",
                               help="outside only = a spurious-feature attack")
        fs_quick = c2.toggle("Quick look (3 episodes, small attack budget)", key="rb_fs_quick")
        if st.button("Start few-shot robustness jobs", type="primary", disabled=not fs_chosen, key="rb_fs_start"):
            mode = fv.ROI_MODE_CHOICES[fs_mode]
            for r in (r for r in fs_runs if r.name in fs_chosen):
                argv = commands.fewshot_robustness_argv(ws, r.name, r.path.parent, quick=fs_quick, roi_mode=mode)
                launch_job(ws, "robustness", argv, title=f"few-shot robustness {r.name}")
            st.toast("few-shot robustness jobs started")
    for problem in fs_problems:
        st.error(problem)
    if not fs_reports:
        st.info("No few-shot robustness report yet: start an evaluation above.")
    else:
        shown = st.multiselect("Reports on the plots", list(fs_reports), default=list(fs_reports), key="rb_fs_show")
        picked = {k: v for k, v in fs_reports.items() if k in shown}
        exported["fewshot"] = picked
        cols = st.columns(2)
        for i, (kind, metric, title, xlab, xs, ylab) in enumerate(fv.FIGURES):
            series = fv.curve_series(picked, kind, metric)
            if series:
                fig = rv.curve_figure(series, title, xlab, x_scale=xs, y_title=ylab)
                cols[i % 2].plotly_chart(fig, key=f"rb-fs-{kind}-{metric}")
                figures.append(fig)
                curves[f"few-shot {metric} vs {kind}"] = series
        st.markdown("**Few-shot summary** (%, mean ± 95% CI over test episodes)")
        st.dataframe(fv.summary_rows(picked), hide_index=True, key="rb-fs-table")

# ---------------------------------------------------------------- downloads
if exported:
    st.header("Downloads")
    d1, d2, d3 = st.columns(3)
    d1.download_button("JSON (all results shown)", json.dumps(exported, indent=2, default=str),
                       file_name="robustness.json", mime="application/json", key="rb-dl-json")
    d2.download_button("CSV (curves)", rv.curves_csv(curves), file_name="robustness_curves.csv", mime="text/csv",
                       key="rb-dl-csv")
    if figures:
        d3.download_button("HTML (figures, opens offline)", rv.figures_html(figures), file_name="robustness.html",
                           mime="text/html", key="rb-dl-html")
