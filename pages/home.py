"""Home: what the studio does, the workspace at a glance, one-click demo data."""

import streamlit as st

from pages import _ui
from core.studio import workspace_summary

ws = _ui.workspace()

st.title("EquiGuard Studio")
st.markdown(
    """
Two research results, one workbench for radiologists and ML researchers:

* **Expert-guided explainable few-shot learning** — draw regions of interest on DICOM, NIfTI or
  plain images; a prototypical network learns from a handful of labelled examples while a
  soft-Dice loss pulls its Grad-CAM towards *your* ROIs.
* **Symmetry for robustness** — CNNs with rotation- and scale-equivariant layers, attacked with
  FGSM/PGD in pixel space, compared with plain CNNs on accuracy under attack, rotation, scale,
  corruptions and CLEVER scores.

Long computations run as **background jobs** (the same `python -m core …` commands you can run
in a terminal); they keep going when you reload the page.
"""
)

summary = workspace_summary(ws)
cols = st.columns(5)
cols[0].metric("Images", summary.images)
cols[1].metric("Annotated", f"{summary.annotated_images}/{summary.images}")
cols[2].metric("ROIs", summary.rois)
cols[3].metric("Models", summary.checkpoints)
cols[4].metric("Jobs running", f"{summary.jobs_active}/{summary.jobs_total}")
st.caption(f"Workspace: `{ws.root}`")

st.subheader("Demo workspace")
st.write(
    "Loads bundled sample data (pydicom CT/MR/multi-frame/RGB samples, a NIfTI volume, brain and "
    "chest phantoms with exact ROIs, handwritten digits) and starts small background jobs that "
    "train the demo models. Nothing is downloaded."
)
c1, c2 = st.columns([1, 3])
train = c2.checkbox("also train demo models in the background", value=True)
if c1.button("Load demo workspace", type="primary"):
    from core.demo import build_demo

    with st.spinner("Filling the workspace…"):
        try:
            result = build_demo(ws, train=train)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            _ui.show_error(exc)
        else:
            st.success(result.describe())

st.subheader("Pages")
st.page_link("pages/annotate.py", label="Annotate — read images and draw ROIs as a named reader", icon=":material/draw:")
st.page_link("pages/agreement.py", label="Agreement — how far readers agree (Dice, HD95, κ)", icon=":material/group:")
st.page_link("pages/fewshot.py", label="Few-shot training — guided vs unguided", icon=":material/psychology:")
st.page_link("pages/symmetry.py", label="Symmetry models — train on digits or medical images, registry of both model kinds", icon=":material/360:")
st.page_link("pages/attack_lab.py", label="Attack lab — worst-case attacks on medical images, two models side by side", icon=":material/swords:")
st.page_link("pages/robustness.py", label="Robustness report — worst case, masking checks, few-shot accuracy and CAM–ROI Dice under attack", icon=":material/monitoring:")

if summary.jobs_total:
    st.subheader("Recent jobs")
    _ui.job_table(ws, key="home", limit=5)
