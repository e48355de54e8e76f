"""Annotate: open DICOM/NIfTI/PNG images, window them, draw ROIs, label, save, undo, export."""

import time
from pathlib import Path

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from pages import _ui
from core.io import WINDOW_PRESETS, Window, load_image
from core.store import AnnotationStore, export_bundle, sha256_file
from core.studio.annotate import TOOLS, apply_drawing, initial_drawing
from core.studio.canvas import background_image, fit_canvas
from core.studio.planes import Plane, find_plane, image_files, images_dir, register_plane, render_plane, save_upload

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
    upload = st.file_uploader("Upload DICOM, NIfTI, PNG or JPEG", key="ann_upload")
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

# ------------------------------------------------------------------ plane and window
with st.sidebar:
    st.subheader("View")
    if image.is_volume:
        axis = st.radio("Axis", ["axial", "coronal", "sagittal"], horizontal=True, key="ann_axis")
        n = image.n_slices(axis)
        plane = Plane(st.slider("Slice", 0, n - 1, n // 2, key=f"ann_slice_{axis}"), axis)
    elif image.n_frames > 1:
        plane = Plane(st.slider("Frame", 0, image.n_frames - 1, 0, key="ann_frame"), None)
    else:
        plane = Plane(0, None)
    window = None
    if not image.is_rgb:
        presets = ["default", "auto", *WINDOW_PRESETS]
        preset = st.selectbox("Window preset", presets, key="ann_preset",
                              help=f"default: {image.default_window.describe()}")
        base = image.resolve_window(preset)
        lo, hi = float(image.pixels.min()), float(image.pixels.max())
        span = max(hi - lo, 1e-6)
        custom = st.checkbox("Adjust centre / width", key="ann_custom")
        if custom:
            center = st.slider("Centre", lo - span, hi + span, float(base.center), key="ann_center")
            width = st.slider("Width", span / 1000, 2 * span, float(min(max(base.width, span / 1000), 2 * span)),
                              key="ann_width")
            window = Window(center, width, "custom")
        else:
            window = base

pixels = render_plane(image, plane, window)
shape = tuple(pixels.shape[:2])
record = find_plane(store, sha, image, plane)
rois = store.list_rois(record.id) if record else []
label_rec = store.get_image_label(record.id) if record else None

where = f"slice {plane.index} ({plane.axis})" if plane.axis else (f"frame {plane.index}" if image.n_frames > 1 else "")
st.caption(f"**{_short(path)}** {where} · {shape[1]}×{shape[0]} px · {image.format} {image.modality or ''}"
           + (f" · window {window.describe()}" if window is not None else ""))

# ------------------------------------------------------------------ labels and tools
c1, c2, c3 = st.columns([2, 2, 3])
tool = c1.radio("Tool", list(TOOLS), horizontal=False, key="ann_tool")
class_label = c2.text_input("Image class label", value=label_rec.label if label_rec else "",
                            key=f"ann_class_{sha}_{plane}")
roi_label = c2.text_input("Label for new ROIs", value=st.session_state.get("ann_roi_label_last", "lesion"),
                          key="ann_roi_label")
with c3:
    st.markdown("**How to draw**")
    st.caption("Polygon: click the vertices, then click the first vertex again to close it. "
               "Rectangle/circle: drag. Freehand: draw a closed outline. Stored ROIs appear in orange; "
               "turn on the canvas toolbar's edit toggle to move their vertices. Then press **Save**.")

width, height, transform = fit_canvas(shape)
drawing, owners = initial_drawing(rois, transform)
revision = "-".join(f"{r.id}.{r.version}" for r in rois)
canvas = st_canvas(
    fill_color="rgba(0, 200, 255, 0.25)", stroke_width=2, stroke_color="#00c8ff",
    background_image=background_image(pixels, (width, height)), background_image_fit="stretch",
    drawing_mode=TOOLS[tool], initial_drawing=drawing, width=width, height=height,
    key=f"canvas-{sha[:16]}-{plane.index}-{plane.axis}-{width}x{height}-{revision}",
)

b1, b2, _ = st.columns([1, 1, 3])
if b1.button("Save", icon=":material/save:", type="primary", key="ann_save"):
    try:
        image_id = record.id if record else register_plane(store, Path(path), image, plane)
        summary = apply_drawing(store, image_id, rois, drawing, owners, canvas.json_data, shape, transform,
                                label=roi_label, annotator=annotator)
        if class_label.strip() and (label_rec is None or label_rec.label != class_label.strip()):
            store.set_image_label(image_id, class_label.strip(), annotator or "unknown")
    except Exception as exc:  # noqa: BLE001
        _ui.show_error(exc)
    else:
        st.session_state["ann_roi_label_last"] = roi_label
        st.session_state["ann_flash"] = summary.describe()
        for warning in summary.warnings:
            st.warning(warning)
        if summary.created or summary.updated:
            st.rerun()
if b2.button("Set class label only", key="ann_set_label"):
    try:
        image_id = record.id if record else register_plane(store, Path(path), image, plane)
        store.set_image_label(image_id, class_label, annotator)
    except Exception as exc:  # noqa: BLE001
        _ui.show_error(exc)
    else:
        st.session_state["ann_flash"] = f"Class label set to {class_label.strip()!r}."
        st.rerun()
if "ann_flash" in st.session_state:
    st.success(st.session_state.pop("ann_flash"))

# ------------------------------------------------------------------ stored ROIs
st.subheader(f"ROIs on this {('slice' if plane.axis else 'image')} ({len(rois)})")
for roi in rois:
    r1, r2, r3, r4 = st.columns([4, 2, 1, 1])
    r1.markdown(f"**{roi.label}** · {roi.area} px · v{roi.version} · by {roi.annotator}")
    r2.caption(roi.updated_at)
    if r3.button("Undo", key=f"undo-{roi.id}", help="go back to the previous version"):
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
deleted = [r for r in store.list_rois(record.id, include_deleted=True) if r.deleted] if record else []
if deleted:
    with st.expander(f"Deleted ROIs ({len(deleted)})"):
        for roi in deleted:
            d1, d2 = st.columns([4, 1])
            d1.write(f"{roi.label} · {roi.area} px · v{roi.version}")
            if d2.button("Restore", key=f"restore-{roi.id}"):
                store.restore_roi(roi.id, annotator=annotator or "unknown", expected_version=roi.version)
                st.rerun()

# ------------------------------------------------------------------ progress and export
st.subheader("Progress")
planes = store.list_images()
annotated = [p for p in planes if store.list_rois(p.id)]
st.progress(len(annotated) / len(planes) if planes else 0.0,
            text=f"{len(annotated)} of {len(planes)} registered images have at least one ROI")
with st.expander("Annotated images"):
    st.dataframe([{"image": p.display_name, "plane": (f"{p.axis} {p.slice_index}" if p.axis else
                                                     (f"frame {p.slice_index}" if p.slice_index is not None else "")),
                   "ROIs": len(store.list_rois(p.id)),
                   "class": (store.get_image_label(p.id).label if store.get_image_label(p.id) else "")}
                  for p in planes], hide_index=True)
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
