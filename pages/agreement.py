"""Agreement: how far the readers' ROIs and class labels agree, worst images first."""

import streamlit as st

from pages import _ui
from core.agreement import agreement_report
from core.store import AnnotationStore
from core.studio.agreement_view import dice_heatmap, reader_colors, reader_panels

ws = _ui.workspace()
store = AnnotationStore(ws)
profile = _ui.reader()
st.title("Agreement")
st.caption("Every image read by two or more readers: pairwise Dice, IoU and 95% Hausdorff distance of their "
           "ROIs per label (a reader who drew nothing of a label scores Dice 0), and Cohen's / Fleiss' κ of "
           "their class labels. In blinded mode you see the images you have submitted (adjudicators: all).")


@st.cache_data(show_spinner="Comparing readers…", max_entries=8)
def _report(root: str, revision: str, image_ids: tuple[int, ...] | None, label: str | None):
    return agreement_report(store, image_ids=image_ids, label=label)


visible = store.unblinded_image_ids(None if profile is None else profile.name)
lists = store.list_task_lists()
c1, c2, c3 = st.columns(3)
scope = c1.selectbox("Images", ["all images"] + [t.name for t in lists], key="ag_scope")
labels = sorted({lab for lab in store.roi_counts()})
label = c2.selectbox("ROI label", ["all labels"] + labels, key="ag_label")
n_worst = c3.number_input("Worst images to open", 1, 12, 3, key="ag_worst")
ids = visible
if scope != "all images":
    members = set(store.get_task_list(scope).image_ids)
    ids = members if ids is None else ids & members
report = _report(str(ws.root), store.revision(), None if ids is None else tuple(sorted(ids)),
                 None if label == "all labels" else label)
if visible is not None:
    st.info(f"Blinded mode: showing the {len(visible)} image(s) you may see in full"
            + ("" if profile is not None else " (choose a reader profile in the sidebar to see your submitted ones)")
            + ".", icon=":material/visibility_off:")
if not report.images:
    st.info("No image has two or more readers yet. Readers draw and label on the Annotate page.")
    st.stop()

all_dice = [p.dice for p in report.pairs]
name, kappa, n_kappa = report.labels.headline
m1, m2, m3, m4 = st.columns(4)
m1.metric("Images compared", len(report.images))
m2.metric("Readers", len(report.reader_names))
m3.metric("Mean pairwise Dice", f"{sum(all_dice) / len(all_dice):.3f}" if all_dice else "–",
          help=f"{len(all_dice)} reader pairs × labels")
m4.metric(name, "–" if kappa is None else f"{kappa:.3f}", help=f"class labels of {n_kappa} image(s)")

left, right = st.columns([2, 3])
left.plotly_chart(dice_heatmap(report), key="ag_heatmap")
right.markdown("**Per reader**")
right.dataframe(report.reader_rows(), hide_index=True, key="ag_readers")
st.markdown("**Per image** (worst first)")
order = {im.image_id: k for k, im in enumerate(report.worst(len(report.images)))}
st.dataframe(sorted(report.image_rows(), key=lambda row: order[row["image"]]), hide_index=True, key="ag_images")

st.subheader("Worst agreement")
colors = reader_colors(report.reader_names)
st.caption("Outline colours: " + " · ".join(f"{n} rgb{c}" for n, c in colors.items()))
for im in report.worst(int(n_worst)):
    st.markdown(f"**{im.name}** (image {im.image_id}) · min Dice {im.min_dice:.3f} · mean Dice {im.mean_dice:.3f}"
                + (f" · max HD95 {im.max_hd95_px:.1f} px" if im.max_hd95_px is not None else ""))
    panels, note = reader_panels(store, im.image_id, None if label == "all labels" else label, colors)
    if note:
        st.caption(note)
    for col, panel in zip(st.columns(len(panels)), panels):
        col.image(panel.image, caption=panel.title, width="stretch")
