"""Attack lab: one image, two models that fit it, the worst case or one attack, Grad-CAM against the expert ROI."""

import streamlit as st

from pages import _ui
from core.errors import EquiGuardError
from core.studio import attack_lab, image_sources, lab_choices, uploads
from core.studio.registry import list_models, load_model
from core.studio.roi_alignment import ALIGNMENT_SHOWN

ws = _ui.workspace()
st.title("Attack lab")
st.caption("Pixel-space L∞ attacks (ε in /255 units), normalisation inside the model, eval mode during the attack. "
           "Predictions and Grad-CAM for the clean and the attacked image, with the expert ROI's outline and the "
           "CAM–ROI agreement. The worst case runs an AutoAttack-style ensemble (APGD-CE, APGD-T, Square) and names "
           "the attack that broke the image; PGD and FGSM are weak attacks, for comparison only. Only models that "
           "can classify the image (channels, size, classes, kind of data) are offered.")

entries = list_models(ws)
for entry in entries:
    if entry.error is not None:
        st.warning(f"{entry.name} cannot be used: {entry.error}", icon=":material/warning:")
if not any(e.error is None for e in entries):
    st.info("No trained models yet. Train some on **Few-shot training** or **Symmetry models**, or load the demo "
            "workspace on **Home**.")
    st.stop()

# ---------------------------------------------------------------- inputs
with st.sidebar:
    st.subheader("Attack")
    method = st.radio("Method", list(attack_lab.METHODS), format_func=attack_lab.METHODS.__getitem__,
                      key="al_method")
    eps255 = st.slider("ε (/255)", 0.0, 32.0, 8.0, 0.5, key="al_eps")
    steps = st.slider("Steps (APGD, FAB-T, PGD)", 1, 100, 10, key="al_steps",
                      disabled=method not in attack_lab.STEPPED)
    st.subheader("View")
    rotation = st.slider("Rotation (°)", -180, 180, 0, 5, key="al_rotation",
                         help="Turns the image and its ROI together, before the attack.")
    scale = st.slider("Scale", 0.5, 1.5, 1.0, 0.05, key="al_scale",
                      help="Zooms the image and its ROI together, before the attack.")

sources = image_sources.list_sources(ws)
source_names = [s.title for s in sources]
first_image = (lab_choices.default_source(ws, sources, entries) if "al_image" not in st.session_state else 0)
c1, c2 = st.columns([2, 1])
pick = c1.selectbox("Image", range(len(sources)), index=first_image, format_func=source_names.__getitem__,
                    key="al_image")
upload = c2.file_uploader("…or upload one", type=None, key="al_upload", max_upload_size=uploads.max_upload_mb())
try:
    if upload is not None:
        image = image_sources.from_upload(upload.getvalue(), upload.name)
    else:
        image = image_sources.load_source(ws, sources[pick])
except Exception as exc:  # noqa: BLE001 - bad files are messages, not tracebacks
    _ui.show_error(exc)
    st.stop()

offer = lab_choices.offer(entries, image)
if offer.mismatched:
    with st.expander(f"{len(offer.mismatched)} model(s) not offered for this image"):
        for name, reason in offer.mismatched.items():
            st.caption(f"{name}: {reason}")
if not offer.fits:
    st.warning(offer.summary(), icon=":material/block:")
    st.stop()

names = [e.name for e in offer.fits]
labels = {e.name: e.label for e in offer.fits}
default = lab_choices.default_models(offer.fits)
m1, m2, m3 = st.columns([2, 2, 1])
first = m1.selectbox("Model A", names, index=default[0], format_func=labels.__getitem__, key="al_model_a")
compare = m3.checkbox("Compare", value=len(names) > 1, key="al_compare", help="Show a second model side by side.")
second = (m2.selectbox("Model B", names, index=default[-1], format_func=labels.__getitem__, key="al_model_b")
          if compare else None)
roi_mode = st.radio("Perturb", list(attack_lab.ROI_MODES), format_func=attack_lab.ROI_MODES.__getitem__,
                    horizontal=True, key="al_roi")
problem = lab_choices.roi_problem(image, roi_mode)
if problem is not None:
    st.error(problem, icon=":material/block:")
    st.stop()


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def _model(path: str, mtime: float):
    entry = next(m for m in entries if str(m.path) == path)
    model = load_model(entry)
    attack_lab.warm_up(model, entry.config.get("in_channels", 1), entry.config.get("image_size", 32))
    return model


def _alignment_table(view) -> str:
    def cell(metric: str, value: float) -> str:
        return ("hit" if value >= 0.5 else "miss") if metric == "pointing" else f"{value:.3f}"

    rows = [f"| {shown} | {cell(m, view.alignment['clean'][m])} | {cell(m, view.alignment['attacked'][m])} |"
            for m, shown in ALIGNMENT_SHOWN.items()]
    return "\n".join(["| CAM vs expert ROI | clean | attacked |", "|---|---|---|", *rows])


def _show(entry, column) -> float:
    with column:
        st.subheader(entry.name)
    try:
        x, roi = lab_choices.model_input(image, entry, rotation, scale)
        view = attack_lab.analyse(_model(str(entry.path), entry.modified), x, attack=method, eps=eps255 / 255,
                                  steps=steps, label=lab_choices.label_index(image, entry), roi=roi,
                                  roi_mode=roi_mode, class_names=entry.class_names)
    except EquiGuardError as exc:
        with column:
            _ui.show_error(exc)
        return 0.0
    with column:
        for message in view.warnings:
            st.warning(message, icon=":material/warning:")
        verdict = ":red[prediction flipped]" if view.flipped else ":green[prediction held]"
        if view.broken_by:
            verdict += f" (by {view.broken_by})"
        if lab_choices.label_index(image, entry) is not None:
            right = view.clean_top[0].index == view.label
            # The worst case leaves an already misclassified image alone (it counts as broken).
            after = "not attacked" if not right and method == "autoattack" else verdict
            verdict = (":green[clean correct]" if right else ":orange[clean already wrong]") + " · " + after
        st.caption(f"{entry.arch} · {view.attack} · {verdict} · ‖δ‖∞ = {view.linf * 255:.1f}/255 · "
                   f"{view.seconds * 1000:.0f} ms")
        a, b, c = st.columns(3)
        a.image(view.clean, caption="clean", clamp=True, width="stretch")
        b.image(view.perturbation, caption="perturbation (amplified)", clamp=True, width="stretch")
        c.image(view.adversarial, caption="adversarial", clamp=True, width="stretch")
        p, q = st.columns(2)
        p.markdown("**Clean top-3**\n\n" + "\n".join(
            f"- {pred.name}: {pred.probability:.1%}" for pred in view.clean_top))
        q.markdown("**Adversarial top-3**\n\n" + "\n".join(
            f"- {pred.name}: {pred.probability:.1%}" for pred in view.adversarial_top))
        if view.cam_clean is not None:
            g, h = st.columns(2)
            g.image(attack_lab.overlay(view.clean, view.cam_clean, roi=view.roi), caption="Grad-CAM, clean",
                    width="stretch")
            h.image(attack_lab.overlay(view.adversarial, view.cam_adversarial, roi=view.roi),
                    caption="Grad-CAM, attacked", width="stretch")
            if view.alignment:
                st.markdown(_alignment_table(view))
            st.caption(f"Grad-CAM of class {view.label_name} in both images · explanation drift: "
                       + ", ".join(f"{k} {v:.3f}" for k, v in view.drift.items()))
    return view.seconds


chosen = [first] + ([second] if second is not None else [])
by_name = {e.name: e for e in offer.fits}
columns = st.columns(len(chosen))
elapsed = sum(_show(by_name[name], col) for name, col in zip(chosen, columns))
st.caption(f"Computed in {elapsed * 1000:.0f} ms · image: {image.title} · ε = {eps255:g}/255, perturbed {roi_mode}"
           + (f" · class {image.label_name}" if image.label_name is not None else "")
           + (" · white outline: the expert ROI (moved with the image)" if image.roi is not None else ""))
