"""Few-shot training: expert-guided vs unguided prototypical networks, run side by side as jobs."""

import time

import plotly.graph_objects as go
import streamlit as st

from pages import _ui
from core.errors import EquiGuardError
from core.fewshot_defaults import DEFAULTS, parse_seed
from core.fewshot import BACKBONES
from core.jobs import launch_job
from core.studio import attack_lab, commands
from core.studio.fewshot_view import cam_gallery, runs_by_name

ws = _ui.workspace()
st.title("Few-shot training")
st.caption("Prototypical networks trained on N-way K-shot episodes. The guided run adds α·(1 − soft Dice) between "
           "its Grad-CAM and the expert ROI; the unguided run uses the prototypical loss only. Test patients never "
           "appear in training, and in every test episode the support and the query come from different "
           "patients; accuracy is the mean over test episodes with a 95% CI.")

SOURCES = {"brain-phantom": "Brain MRI phantom (synthetic, 3 lesion types)",
           "cxr-phantom": "Chest X-ray phantom (synthetic, 3 findings)",
           "store": "Workspace annotations (class labels + ROIs)",
           "brats": "BraTS folder", "vindr": "VinDr-CXR folder"}

def _roi_sources() -> list[str]:
    from core.store import AnnotationStore

    return ["union", "majority", "staple", "consensus"] + [f"reader:{r.name}"
                                                          for r in AnnotationStore(ws).list_readers()]


with st.form("fewshot"):
    st.subheader("New experiment")
    c1, c2, c3 = st.columns([2, 2, 3])
    data = c1.selectbox("Data", list(SOURCES), format_func=SOURCES.get)
    roi_source = c2.selectbox("ROI source (workspace data)", _roi_sources(), key="fs_roi_source",
                              help="whose ROIs guide training when several readers outlined an image: union, "
                                   "majority vote, STAPLE, consensus (adjudicator, else STAPLE) or one reader")
    data_root = c3.text_input("Folder (BraTS / VinDr only)", placeholder="/path/to/BraTS2020_TrainingData")
    c1, c2, c3, c4 = st.columns(4)
    way = c1.number_input("N (classes per episode)", 2, 10, DEFAULTS.way, key="fs_way")
    shot = c2.number_input("K (support per class)", 1, 20, DEFAULTS.shot, key="fs_shot")
    query = c3.number_input("Q (queries per class)", 1, 20, DEFAULTS.query, key="fs_query")
    episodes = c4.number_input("Training episodes", 10, 5000, DEFAULTS.episodes, step=10, key="fs_episodes")
    c1, c2, c3, c4 = st.columns(4)
    guidance = c1.selectbox("Guidance (guided run)", ["dice", "rrr"],
                            help="dice: soft-Dice on Grad-CAM (the paper); rrr: input-gradient penalty outside the ROI")
    alpha = c2.number_input("α", 0.0, 10.0, DEFAULTS.alpha, step=0.01, format="%.3f", key="fs_alpha")
    backbone = c3.selectbox("Backbone", BACKBONES,
                            help="resnet18/densenet121 need local weights (nothing is downloaded); parallel_*, "
                                 "cascaded and equivariant are the symmetry-aware networks of Symmetry models")
    eval_episodes = c4.number_input("Test episodes", 20, 5000, DEFAULTS.eval_episodes, step=20, key="fs_eval_episodes")
    c1, c2, c3, c4 = st.columns(4)
    targets = ["log_prob", "distance"]
    cam_score = c1.selectbox("Grad-CAM target", targets, index=targets.index(DEFAULTS.cam_score), key="fs_cam_score",
                             help="log_prob: the true class's episode log-probability (works on our phantoms); "
                                  "distance: -distance to the true prototype (the paper's target; see docs/science/fewshot.md)")
    data_seed = c2.text_input("Data seed", str(DEFAULTS.data_seed), key="fs_data_seed",
                              help="generates the phantoms / splits the patients into training and test")
    train_seed = c3.text_input("Training seed", str(DEFAULTS.train_seed), key="fs_train_seed",
                               help="initialises the models and draws the training episodes")
    eval_seed = c4.text_input("Evaluation seed", str(DEFAULTS.eval_seed), key="fs_eval_seed",
                              help="draws the test episodes (the same for the guided and the unguided run)")
    run_name = st.text_input("Run name", value=time.strftime("run-%m%d-%H%M"))
    submitted = st.form_submit_button("Launch guided + unguided", type="primary")


def _launch() -> None:
    seeds = {"data_seed": parse_seed(data_seed, "data seed"), "train_seed": parse_seed(train_seed, "training seed"),
             "eval_seed": parse_seed(eval_seed, "evaluation seed")}
    common = dict(data=data, run=run_name.strip() or "run", way=int(way), shot=int(shot), query=int(query),
                  alpha=float(alpha), backbone=backbone, episodes=int(episodes), eval_episodes=int(eval_episodes),
                  data_root=data_root.strip() or None, cam_score=cam_score,
                  roi_source=roi_source if data == "store" else None, **seeds)
    runs = {g: commands.fewshot_argv(ws, guidance=g, **common) for g in (guidance, "none")}
    if data not in ("brats", "vindr"):  # folders can take minutes to load: their jobs report such errors
        with st.spinner("Checking the data…"):
            commands.fewshot_check(ws, runs["none"])
    for g, argv in runs.items():
        label = f"guided ({g})" if g != "none" else "unguided"
        job_id = launch_job(ws, "fewshot", argv, title=f"few-shot {common['run']}: {label}")
        st.toast(f"job #{job_id}: {label}")


if submitted:
    try:
        _launch()
    except EquiGuardError as exc:
        _ui.show_error(exc)


@st.fragment(run_every=2.0)
def _live() -> None:
    st.subheader("Runs in progress and recent")
    jobs = _ui.job_table(ws, kinds=("fewshot", "demo"), match=lambda j: "few-shot" in j.title, key="fs", limit=4)
    watched = {j.title.split(": ", 1)[-1] + f" #{j.id}": j.id for j in jobs}
    if watched:
        _ui.job_curves(ws, dict(list(watched.items())[:4]), metrics=("loss", "acc", "exp_loss"), stage="train",
                       key="fs-curves")


_live()

st.subheader("Results")
runs = runs_by_name(ws)
if not runs:
    st.info("No finished runs yet.")
    st.stop()
name = st.selectbox("Experiment", list(runs))
pair = runs[name]
cols = st.columns(len(pair))
for col, (g, run) in zip(cols, sorted(pair.items(), key=lambda kv: kv[0] == "none")):
    acc, ci = run.accuracy
    col.metric(f"{'unguided' if g == 'none' else f'guided ({g})'} accuracy", f"{100 * acc:.1f} %",
               help=f"95% CI ± {100 * ci:.1f} % over {run.metrics['accuracy']['n']} test episodes")
    col.caption(f"± {100 * ci:.1f} % (95% CI) · {run.metrics['data']['test_patients']} held-out patients"
                + (" · synthetic data" if run.metrics["data"].get("synthetic") else ""))
    seeds = run.seeds
    col.caption(f"seeds: data {seeds['data']} · training {seeds['train']} · evaluation {seeds['eval']}")
    if run.dice:
        col.caption(f"Grad-CAM/ROI soft Dice {run.dice[0]:.3f} ± {run.dice[1]:.3f} "
                    f"(Grad-CAM target: {run.alignment_target})")

fig = go.Figure()
for g, run in sorted(pair.items(), key=lambda kv: kv[0] == "none"):
    acc, ci = run.accuracy
    fig.add_trace(go.Bar(x=["unguided" if g == "none" else f"guided ({g})"], y=[100 * acc],
                         error_y=dict(type="data", array=[100 * ci]), name=g))
fig.update_layout(height=300, yaxis_title="test accuracy (%)", showlegend=False, margin=dict(t=20, b=10))
st.plotly_chart(fig, key="fs-acc")

st.subheader("Grad-CAM vs expert ROI (held-out patients)")
st.caption("Heat map: where the model looks for the class evidence; white outline: the expert ROI.")


@st.cache_data(show_spinner="Computing Grad-CAMs…", max_entries=8)
def _gallery(folder: str, mtime: float, guidance: str):
    run = next(r for r in pair.values() if str(r.folder) == folder)
    items = cam_gallery(run, ws)
    return [(attack_lab.overlay(i.image, i.cam, roi=i.roi), i.predicted, i.true, i.dice) for i in items]


for g, run in sorted(pair.items(), key=lambda kv: kv[0] == "none"):
    st.markdown(f"**{'unguided' if g == 'none' else f'guided ({g})'}** · Grad-CAM target: {run.alignment_target}")
    try:
        items = _gallery(str(run.folder), (run.folder / "metrics.json").stat().st_mtime, g)
    except Exception as exc:  # noqa: BLE001 - e.g. a BraTS folder that has since moved
        _ui.show_error(exc)
        continue
    cols = st.columns(max(1, len(items)))
    for col, (img, pred, true, dice) in zip(cols, items):
        mark = "correct:" if pred == true else "wrong:"
        col.image(img, caption=f"{mark} {pred} (true {true}) · Dice {dice:.2f}", width="stretch")
