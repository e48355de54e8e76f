"""Symmetry models: train the paper-1 architectures as background jobs; the model registry."""

import json

import streamlit as st

from pages import _ui
from core.jobs import launch_job
from core.models import ARCHITECTURES, PRESETS
from core.studio import commands
from core.studio.registry import list_models

DATASETS = {"digits": "digits (sklearn, 32×32)", "brain-phantom": "brain MRI phantom (synthetic, 3 channels)",
            "cxr-phantom": "chest X-ray phantom (synthetic)", "store": "labelled images of this workspace",
            "brats": "BraTS folder", "vindr": "VinDr-CXR folder"}

ws = _ui.workspace()
st.title("Symmetry models")
st.caption("Plain, parallel, cascaded and fully rotation-equivariant CNNs (cyclic group C_N via e2cnn) and "
           "scale-equivariant branches with shared weights; trained without adversarial training, on digits or on "
           "medical images split by patient (phantoms are synthetic, not clinical data).")

with st.form("train"):
    st.subheader("Train")
    archs = st.multiselect("Architectures", ARCHITECTURES, default=["baseline", "parallel_rot_scale"])
    c1, c2, c3, c4 = st.columns(4)
    dataset = c1.selectbox("Dataset", commands.TRAIN_DATASETS, format_func=lambda d: DATASETS.get(d, d))
    preset = c2.selectbox("Preset", list(PRESETS), help="; ".join(f"{k}: {v.description}" for k, v in PRESETS.items()))
    epochs = c3.number_input("Epochs", 1, 200, 3)
    seed = c4.number_input("Seed", 0, 10_000, 0)
    c1, c2, c3 = st.columns([1, 1, 2])
    size = c1.selectbox("Image side (medical)", [64, 128], help="medical images are resized to this side")
    spurious = c2.checkbox("Spurious cue (phantoms)",
                           help="a corner marker tied to the class in training patients, random in test patients")
    data_root = c3.text_input("Folder (BraTS / VinDr only)", placeholder="/path/to/BraTS2020_TrainingData")
    submitted = st.form_submit_button("Start training jobs", type="primary")
if submitted:
    if not archs:
        st.warning("Pick at least one architecture.")
    for arch in archs:
        argv = commands.train_argv(ws, arch=arch, dataset=dataset, preset=preset, epochs=int(epochs), seed=int(seed),
                                   size=int(size), spurious=spurious, data_root=data_root.strip() or None)
        job_id = launch_job(ws, "train", argv, title=f"train {arch} on {dataset}")
        st.toast(f"job #{job_id}: training {arch}")


@st.fragment(run_every=2.0)
def _jobs() -> None:
    st.subheader("Training jobs")
    jobs = _ui.job_table(ws, kinds=("train", "demo"), match=lambda j: j.argv[:1] == ["train"], key="sym", limit=6)
    watched = {f"#{j.id} {j.title.split('train ', 1)[-1]}": j.id for j in jobs[:4]}
    if watched:
        _ui.job_curves(ws, watched, metrics=("loss", "acc", "val_acc"), key="sym-curves")


_jobs()

st.subheader("Model registry")
models = list_models(ws)
if not models:
    st.info("No checkpoints in the workspace yet.")
rows = []
for m in models:
    ci = m.metrics.get("test_acc_ci95") or [None, None]
    rows.append({"name": m.name, "kind": m.kind, "arch": m.arch, "C_N": m.config.get("rotation_order"),
                 "params": m.metrics.get("params"), "dataset": m.dataset,
                 "input": f"{m.spec.channels}×{m.spec.size}×{m.spec.size}" if m.error is None else None,
                 "classes": ", ".join(m.class_names), "epochs": m.metrics.get("epochs"),
                 "test acc": m.accuracy, "95% CI low": ci[0], "95% CI high": ci[1],
                 "val acc": m.metrics.get("val_acc"), "train s": m.metrics.get("train_seconds"),
                 "status": m.error or ("trained" if m.accuracy is not None else "training…")})
if rows:
    st.dataframe(rows, hide_index=True, column_config={
        "test acc": st.column_config.NumberColumn(format="percent"),
        "95% CI low": st.column_config.NumberColumn(format="percent"),
        "95% CI high": st.column_config.NumberColumn(format="percent"),
        "val acc": st.column_config.NumberColumn(format="percent"),
        "train s": st.column_config.NumberColumn(format="%.1f")})
    with st.expander("Checkpoint details"):
        pick = st.selectbox("Model", range(len(models)), format_func=lambda i: models[i].name)
        st.code(json.dumps({"path": str(models[pick].path), "config": models[pick].config,
                            "metrics": models[pick].metrics}, indent=2, default=str), language="json")
