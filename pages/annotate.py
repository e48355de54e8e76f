"""Annotate: open DICOM/NIfTI/PNG images, read them in the viewer, draw ROIs, label, save, undo, export."""

import time
from pathlib import Path

import streamlit as st

from pages import _ui
from core.io import load_image
from core.store import AnnotationStore, export_bundle, sha256_file
from core.studio.annotate import save_edits, stack_planes, stack_rois
from core.studio.planes import Plane, find_plane, image_files, images_dir, register_plane, save_upload
from core.studio import uploads
from core.viewer import CONVENTIONS, encode_planes
from equiguard.viewer import roi_viewer

ws = _ui.workspace()
store = AnnotationStore(ws)
annotator = _ui.annotator()
st.title("Annotate")


@st.cache_resource(show_spinner="Loading image…", max_entries=16)
def _load(path: str, mtime: float):
    return load_image(path)


@st.cache_data(show_spinner=False, max_entries=256)
def _sha(path: str, mtime: float) -> str:
    return sha256_file(path)


# ------------------------------------------------------------------ open an image
with st.sidebar:
    st.subheader("Open")
    upload = st.file_uploader("Upload DICOM, NIfTI, PNG or JPEG", key="ann_upload",
                              max_upload_size=uploads.max_upload_mb())
    if upload is not None:
        try:
            saved, _ = save_upload(ws, upload.getvalue(), upload.name)
        except Exception as exc:  # noqa: BLE001 - unreadable uploads are messages, never tracebacks
            _ui.show_error(exc)
        else:
            st.session_state["ann_file"] = str(saved)

files = image_files(ws)
if not files:
    st.info("The workspace has no images yet: upload one in the sidebar, or load the demo workspace on Home.")
    st.stop()
paths = [str(p) for p in files]
root = images_dir(ws)


def _short(p: str) -> str:
    path = Path(p)
    return str(path.relative_to(root)) if path.is_relative_to(root) else path.name


if st.session_state.get("ann_file") not in paths:
    st.session_state["ann_file"] = paths[0]
path = st.sidebar.selectbox("Image file", paths, format_func=_short, key="ann_file")
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
where = f"{meta['n']} {axis} slices" if axis else (f"{meta['n']} frames" if meta["n"] > 1 else "2-D image")
st.caption(f"**{_short(path)}** · {where} · {meta['shape'][1]}×{meta['shape'][0]} px · {image.format} "
           f"{image.modality or ''} · window {image.default_window.describe()} · press **?** in the viewer for hotkeys")


def _save(request):
    return save_edits(store, Path(path), sha, image, axis, request, annotator)


result = roi_viewer(planes, key="ann_viewer", uid=f"{sha}:{axis}", rois=stack_rois(store, sha, image, axis),
                    convention=convention, active_label=roi_label.strip(), on_save=_save, height=height)
if result.report is not None:
    {"ok": st.success, "warn": st.warning, "error": st.error}[result.report.level](result.report.describe())

# ------------------------------------------------------------------ class label
first = Plane(meta["n"] // 2 if meta["n"] > 1 else 0, axis)
record = find_plane(store, sha, image, first)
label_rec = store.get_image_label(record.id) if record else None
c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
class_label = c1.text_input("Image class label (for few-shot training)", value=label_rec.label if label_rec else "",
                            key=f"ann_class_{sha}_{axis}",
                            help="stored on the middle plane" if meta["n"] > 1 else None)
if c2.button("Set class label", key="ann_set_label"):
    try:
        image_id = record.id if record else register_plane(store, Path(path), image, first)
        store.set_image_label(image_id, class_label, annotator or "unknown")
    except Exception as exc:  # noqa: BLE001
        _ui.show_error(exc)
    else:
        st.session_state["ann_flash"] = f"Class label set to {class_label.strip()!r}."
        st.rerun()
if "ann_flash" in st.session_state:
    st.success(st.session_state.pop("ann_flash"))

# ------------------------------------------------------------------ stored ROIs
records = stack_planes(store, sha, image, axis)
rois = [(rec, roi) for rec in records for roi in store.list_rois(rec.id)]
st.subheader(f"Stored ROIs in this {'stack' if meta['n'] > 1 else 'image'} ({len(rois)})")
for rec, roi in rois:
    r1, r2, r3, r4 = st.columns([4, 2, 1, 1])
    plane_text = f" · {axis or 'frame'} {rec.slice_index}" if meta["n"] > 1 else ""
    r1.markdown(f"**{roi.label}**{plane_text} · {roi.area} px · v{roi.version} · by {roi.annotator}")
    r2.caption(roi.updated_at)
    if r3.button("Undo", key=f"undo-{roi.id}", help="go back to the previous stored version"):
        try:
            store.undo_roi(roi.id, annotator=annotator or "unknown", expected_version=roi.version)
        except Exception as exc:  # noqa: BLE001
            _ui.show_error(exc)
        else:
            st.rerun()
    if r4.button("Delete", key=f"del-{roi.id}"):
        try:
            store.delete_roi(roi.id, annotator=annotator or "unknown", expected_version=roi.version)
        except Exception as exc:  # noqa: BLE001
            _ui.show_error(exc)
        else:
            st.rerun()
deleted = [(rec, r) for rec in records for r in store.list_rois(rec.id, include_deleted=True) if r.deleted]
if deleted:
    with st.expander(f"Deleted ROIs ({len(deleted)})"):
        for rec, roi in deleted:
            d1, d2 = st.columns([4, 1])
            d1.write(f"{roi.label} · {roi.area} px · v{roi.version}")
            if d2.button("Restore", key=f"restore-{roi.id}"):
                store.restore_roi(roi.id, annotator=annotator or "unknown", expected_version=roi.version)
                st.rerun()

# ------------------------------------------------------------------ progress and export
st.subheader("Progress")
overview = store.image_overview(annotator or None)  # one aggregated query set, blinding-aware
annotated = [row for row in overview if row.n_rois]
st.progress(len(annotated) / len(overview) if overview else 0.0,
            text=f"{len(annotated)} of {len(overview)} registered images have at least one ROI")
with st.expander("Annotated images"):
    st.dataframe([{"image": p.display_name, "plane": (f"{p.axis} {p.slice_index}" if p.axis else
                                                     (f"frame {p.slice_index}" if p.slice_index is not None else "")),
                   "ROIs": row.n_rois, "class": row.class_label or ""}
                  for row in overview for p in [row.image]], hide_index=True)
if st.button("Prepare export (masks + manifest)", key="ann_export"):
    import shutil

    folder = ws.exports / time.strftime("annotations-%Y%m%d-%H%M%S")
    try:
        result = export_bundle(store, folder)
        archive = shutil.make_archive(str(folder), "zip", root_dir=folder)
    except Exception as exc:  # noqa: BLE001
        _ui.show_error(exc)
    else:
        st.session_state["ann_export_zip"] = archive
        st.session_state["ann_export_text"] = f"{result.n_rois} ROIs on {result.n_images} images"
if st.session_state.get("ann_export_zip") and Path(st.session_state["ann_export_zip"]).exists():
    archive = Path(st.session_state["ann_export_zip"])
    st.download_button(f"Download {archive.name} ({st.session_state['ann_export_text']})", archive.read_bytes(),
                       file_name=archive.name, mime="application/zip", key="ann_download")
