"""Annotate: read images as a named reader, draw ROIs, label, submit; blinded studies and model assistance."""

import html
import time
from pathlib import Path

import streamlit as st

from pages import _ui
from pages._proposals import proposals_panel
from core.assist import ORDERS, rank_planes, unread_images
from core.io import load_image
from core.store import AnnotationStore, export_bundle, sha256_file
from core.studio.annotate import NO_READER, save_edits, stack_view, submit_stack
from core.studio.planes import Plane, find_plane, image_files, images_dir, register_plane, save_upload
from core.studio import uploads
from core.studio.reading import assistant_choices, load_assistant, reading_order, register_default_planes
from core.viewer import CONVENTIONS, encode_planes
from equiguard.viewer import roi_viewer

ws = _ui.workspace()
store = AnnotationStore(ws)
profile = _ui.reader()
reader = None if profile is None else profile.name
st.title("Annotate")

ALL = "All workspace images"
NO_MODEL = "no model"
ORDER_TEXT = {"entropy": "predictive entropy", "margin": "smallest margin", "cam_spread": "most diffuse Grad-CAM"}


@st.cache_resource(show_spinner="Loading image…", max_entries=16)
def _load(path: str, mtime: float):
    return load_image(path)


@st.cache_data(show_spinner=False, max_entries=256)
def _sha(path: str, mtime: float) -> str:
    return sha256_file(path)


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _assistant(choice, mtime: float):
    return load_assistant(choice)


@st.cache_data(show_spinner="Ranking the images by the model's uncertainty…", max_entries=16)
def _ranking(_choice, sha: str, by: str, ids: tuple[int, ...], root: str):
    # Every plane of the work list, read or not: kept per model, so a save only filters it.
    return rank_planes(store, _assistant(_choice, _choice.path.stat().st_mtime), ids, by=by)


# ------------------------------------------------------------------ work list and reading order
with st.sidebar:
    st.subheader("Work list")
    upload = st.file_uploader("Upload DICOM, NIfTI, PNG or JPEG", key="ann_upload",
                              max_upload_size=uploads.max_upload_mb())
    if upload is not None:
        try:
            saved, _ = save_upload(ws, upload.getvalue(), upload.name)
        except Exception as exc:  # noqa: BLE001 - unreadable uploads are messages, never tracebacks
            _ui.show_error(exc)
        else:
            st.session_state["ann_file"] = str(saved)
    lists = {t.name: t for t in store.list_task_lists()}
    scope = st.selectbox("Work list", [ALL, *lists], key="ann_worklist",
                         format_func=lambda n: n if n == ALL else f"{n} ({len(lists[n].image_ids)} images"
                                                                   f"{', blinded' if lists[n].blinded else ''})")
    choices = {c.label: c for c in assistant_choices(ws)}
    model_key = st.selectbox("Assisting model", [NO_MODEL, *choices], key="ann_model",
                             help="ranks the images to read next by its uncertainty, and proposes ROIs from its "
                                  "Grad-CAM")
    choice = choices.get(model_key)
    by = st.selectbox("Annotate next: most uncertain by", ORDERS, format_func=ORDER_TEXT.get, key="ann_rank_by",
                      disabled=choice is None)

files = image_files(ws)
task = lists.get(scope)
scope_ids = None if task is None else list(task.image_ids)
queue, assistant, queue_error = None, None, None
if choice is not None:
    try:
        assistant = _assistant(choice, choice.path.stat().st_mtime)
        if task is None:
            register_default_planes(store, files, load=lambda p: _load(p, Path(p).stat().st_mtime))
        ids = tuple(sorted(i for i, rec in store.get_images(scope_ids).items() if Path(rec.source_path).is_file()))
        unread = set(unread_images(store, reader, scope_ids))
        queue = [r for r in _ranking(choice, assistant.sha256, by, ids, str(ws.root)) if r.image_id in unread]
    except Exception as exc:  # noqa: BLE001 - a damaged checkpoint or image is a message; the page goes on
        queue_error = exc
items = reading_order(store, files, reader=reader, image_ids=scope_ids, queue=queue)
if not items:
    st.info("The workspace has no images yet: upload one in the sidebar, or load the demo workspace on Home."
            if task is None else f"None of the files of the task list {task.name!r} is present in the workspace.")
    st.stop()
by_path = {item.path: item for item in items}
root = images_dir(ws)


def _short(p: str) -> str:
    path = Path(p)
    return str(path.relative_to(root)) if path.is_relative_to(root) else path.name


def _open(path: str) -> None:
    """Open a file at the plane the work list names (a volume's slice, a clip's frame)."""
    st.session_state["ann_file"] = path
    plane = by_path[path].plane
    st.session_state["ann_open_plane"] = None if plane is None else (path, plane.axis, plane.index)
    if plane is not None and plane.axis is not None:
        st.session_state["ann_axis"] = plane.axis


def _next() -> None:
    current = st.session_state.get("ann_file")
    later = [i for i in items if not i.read and i.path != current]
    if later:
        _open(later[0].path)


order_key = (scope, model_key, by if queue is not None else None)
if st.session_state.get("ann_file") not in by_path or st.session_state.get("ann_order") != order_key:
    _open(items[0].path)  # a new work list or order starts at its top
    st.session_state["ann_order"] = order_key
with st.sidebar:
    path = st.selectbox("Image file", list(by_path), format_func=_short, key="ann_file",
                        on_change=lambda: _open(st.session_state["ann_file"]))
    n_unread = sum(not i.read for i in items)
    st.button(f"Next {'in queue' if queue else 'unread'} ({n_unread} unread)" if reader else "Next image",
              key="ann_next", on_click=_next,
              disabled=not [i for i in items if not i.read and i.path != path], icon=":material/skip_next:")
item = by_path[path]
try:
    image = _load(path, Path(path).stat().st_mtime)
except Exception as exc:  # noqa: BLE001
    _ui.show_error(exc)
    st.stop()
sha = _sha(path, Path(path).stat().st_mtime)

# ------------------------------------------------------------------ view settings
with st.sidebar:
    st.subheader("View")
    axis = None
    if image.is_volume:
        axis = st.radio("Axis", ["axial", "coronal", "sagittal"], horizontal=True, key="ann_axis")
    convention = st.radio("Display convention", CONVENTIONS, key="ann_convention", horizontal=True,
                          format_func=str.capitalize,
                          help="Radiological: the patient's right on the screen's left (as radiologists read). "
                               "A view setting only: ROIs are stored the same way in both.")
    roi_label = st.text_input("Label for new ROIs", value="lesion", key="ann_roi_label",
                              help="also editable in the viewer's toolbar")
    height = st.slider("Viewer height (px)", 400, 1200, 680, 40, key="ann_height")


@st.cache_resource(show_spinner="Preparing the image for the viewer…", max_entries=4)
def _planes(path: str, mtime: float, axis):
    return encode_planes(_load(path, mtime), axis)


planes = _planes(path, Path(path).stat().st_mtime, axis)
meta = planes.meta
opened = st.session_state.get("ann_open_plane")
reading = Plane(opened[2], axis) if opened and opened[0] == path and opened[1] == axis \
    else Plane(meta["n"] // 2 if meta["n"] > 1 else 0, axis)
where = f"{meta['n']} {axis} slices" if axis else (f"{meta['n']} frames" if meta["n"] > 1 else "2-D image")
view = stack_view(store, sha, image, axis, reader)
with st.container():  # everything above the viewer shares one slot, so the viewer never moves (nor remounts)
    st.caption(f"**{_short(path)}** · {where} · {meta['shape'][1]}×{meta['shape'][0]} px · {image.format} "
               f"{image.modality or ''} · window {image.default_window.describe()} · press **?** in the viewer for "
               "hotkeys")
    if queue_error is not None:
        _ui.show_error(queue_error)
    if item.rank is not None:
        st.caption(f":material/format_list_numbered: **Annotate next #{item.rank} of "
                   f"{sum(i.rank is not None for i in items)}** · {choice.label} predicts **{item.predicted}** "
                   f"({item.probability:.0%}) · {ORDER_TEXT[by]} {abs(item.uncertainty):.3g}")
    badges = st.container(horizontal=True)
    if profile is None:
        st.warning(f"Nothing can be saved yet: {NO_READER} (name and role).", icon=":material/badge:")
    else:
        badges.badge(f"Reading as {profile.name} · {profile.role}", icon=":material/badge:", color="blue")
    if view.blinded:
        badges.badge("Blinded", icon=":material/visibility_off:", color="orange")
    if view.submitted:
        badges.badge("Submitted", icon=":material/task_alt:", color="green")
    if view.hidden:
        st.caption("Blinded reading: other readers' ROIs and labels on this image stay hidden until you submit "
                   "your reading.")


def _save(request):
    return save_edits(store, Path(path), sha, image, axis, request, reader or "")


result = roi_viewer(planes, key="ann_viewer", uid=f"{sha}:{axis}", rois=view.rois, overlays=view.overlays,
                    proposals=view.proposals, slice_index=reading.index if meta["n"] > 1 else None,
                    convention=convention, active_label=roi_label.strip(), on_save=_save, height=height)
if result.report is not None:
    {"ok": st.success, "warn": st.warning, "error": st.error}[result.report.level](result.report.describe())
if view.overlays:
    legend = " · ".join(f"<span style='color:{view.colours[n]}'>&#9632;</span> {html.escape(n)}"
                        for n in sorted({o['name'] for o in view.overlays}))
    st.markdown(f"Other readers' ROIs (dashed, read-only): {legend}", unsafe_allow_html=True)

# ------------------------------------------------------------------ class label and submission
record = find_plane(store, sha, image, reading)
plane_text = f" (on {axis or 'frame'} {reading.index})" if meta["n"] > 1 else ""
own = store.get_image_label(record.id, reader=reader) if record and reader else None
c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
class_label = c1.text_input(f"Your class label for this image{plane_text}", value=own.label if own else "",
                            key=f"ann_class_{sha}_{axis}_{reading.index}_{reader}", disabled=reader is None)
if c2.button("Set class label", key="ann_set_label", disabled=reader is None):
    try:
        image_id = record.id if record else register_plane(store, Path(path), image, reading)
        store.set_image_label(image_id, class_label, reader)
    except Exception as exc:  # noqa: BLE001
        _ui.show_error(exc)
    else:
        st.session_state["ann_flash"] = f"Class label set to {class_label.strip()!r}."
        st.rerun()
if c3.button("Submit reading", key="ann_submit", type="primary" if view.hidden else "secondary",
             disabled=reader is None or view.submitted,
             help="Save your ROIs first. Submitting marks this image as read by you and, in a blinded study, "
                  "shows you the other readers' work on it; you can still edit your own ROIs."):
    try:
        n = submit_stack(store, Path(path), sha, image, axis, reader, reading)
    except Exception as exc:  # noqa: BLE001
        _ui.show_error(exc)
    else:
        st.session_state["ann_flash"] = f"Reading submitted ({n} plane{'s' if n > 1 else ''})."
        st.rerun()
if "ann_flash" in st.session_state:
    st.success(st.session_state.pop("ann_flash"))
if record is not None and (reader is None and not view.hidden or reader and store.sees_everything(record.id, reader)):
    others = [lab for lab in store.reader_labels(record.id) if lab.annotator != reader]
    if others:
        st.caption("Other readers' class labels: " + " · ".join(f"{lab.annotator}: **{lab.label}**" for lab in others))

# ------------------------------------------------------------------ model proposals
proposals_panel(store, view, profile, assistant,
                lambda: record.id if record else register_plane(store, Path(path), image, reading), plane_text)

# ------------------------------------------------------------------ stored ROIs
decisions = {d.roi_id: d for d in store.proposal_decisions() if d.roi_id is not None}
several = meta["n"] > 1
st.subheader(f"Your ROIs in this {'stack' if several else 'image'} ({len(view.mine)})")


def _roi_button(column, label: str, action, roi, help: str | None = None) -> None:
    """A store action on one of the reader's ROIs (undo, delete, restore), refused if it changed meanwhile."""
    if column.button(label, key=f"{label.lower()}-{roi.id}", help=help):
        try:
            action(roi.id, annotator=reader, expected_version=roi.version)
        except Exception as exc:  # noqa: BLE001
            _ui.show_error(exc)
        else:
            st.rerun()


for rec, roi in view.mine:
    r1, r2, r3, r4 = st.columns([4, 2, 1, 1])
    origin = decisions.get(roi.id)
    where = f" · {axis or 'frame'} {rec.slice_index}" if several else ""
    r1.markdown(f"**{roi.label}**{where} · {roi.area} px · v{roi.version}"
                + (f" · from model proposal #{origin.proposal_id} ({origin.decision})" if origin else ""))
    r2.caption(f"saved {roi.updated_at[:16].replace('T', ' ')} UTC")
    _roi_button(r3, "Undo", store.undo_roi, roi, help="go back to the previous stored version")
    _roi_button(r4, "Delete", store.delete_roi, roi)
if view.theirs:
    with st.expander(f"Other readers' ROIs ({len(view.theirs)}, read-only)"):
        st.dataframe([{"reader": roi.annotator, "label": roi.label, "plane": rec.slice_index if several else "",
                       "area (px)": roi.area, "version": roi.version, "updated": roi.updated_at}
                      for rec, roi in view.theirs], hide_index=True)
if view.deleted:
    with st.expander(f"Your deleted ROIs ({len(view.deleted)})"):
        for rec, roi in view.deleted:
            d1, d2 = st.columns([4, 1])
            d1.write(f"{roi.label} · {roi.area} px · v{roi.version}")
            _roi_button(d2, "Restore", store.restore_roi, roi)

# ------------------------------------------------------------------ progress and export
st.subheader("Progress" + ("" if task is None else f" · {task.name}"))
n_read = sum(i.read for i in items)
st.progress(n_read / len(items), text=f"{n_read} of {len(items)} images read by you (outlined, labelled or "
                                      "submitted on every plane listed)" if reader else
            "Choose your reader profile to follow your progress.")
blinded_study = store.blinded_image_ids() != set()
overview = [] if reader is None and blinded_study else \
    store.image_overview(reader, image_ids=scope_ids)  # one aggregated query set, blinding-aware
with st.expander(f"Registered planes ({len(overview)})"):
    st.dataframe([{"image": p.display_name, "plane": (f"{p.axis} {p.slice_index}" if p.axis else
                                                     (f"frame {p.slice_index}" if p.slice_index is not None else "")),
                   "ROIs (visible)": row.n_rois, "readers": ", ".join(row.readers), "class": row.class_label or "",
                   "blinded": row.blinded, "submitted by you": row.submitted, "submissions": row.n_submissions}
                  for row in overview for p in [row.image]], hide_index=True, key="ann_progress")
may_export = not blinded_study or (profile is not None and profile.is_adjudicator)
if st.button("Prepare export (masks + manifest)", key="ann_export", disabled=not may_export,
             help=None if may_export else "In a blinded study only adjudicators export: the bundle holds every "
                                          "reader's ROIs and labels."):
    import shutil

    folder = ws.exports / time.strftime("annotations-%Y%m%d-%H%M%S")
    try:
        exported = export_bundle(store, folder)
        archive = shutil.make_archive(str(folder), "zip", root_dir=folder)
    except Exception as exc:  # noqa: BLE001
        _ui.show_error(exc)
    else:
        st.session_state["ann_export_zip"] = archive
        st.session_state["ann_export_text"] = f"{exported.n_rois} ROIs on {exported.n_images} images"
if st.session_state.get("ann_export_zip") and Path(st.session_state["ann_export_zip"]).exists():
    archive = Path(st.session_state["ann_export_zip"])
    st.download_button(f"Download {archive.name} ({st.session_state['ann_export_text']})", archive.read_bytes(),
                       file_name=archive.name, mime="application/zip", key="ann_download")
