"""Attack lab: one image, one or two models, the worst-case ensemble or one attack, with Grad-CAM."""

import streamlit as st

from pages import _ui
from core.errors import EquiGuardError
from core.studio import attack_lab, image_sources, uploads
from core.studio.registry import list_models, load_model

ws = _ui.workspace()
st.title("Attack lab")
st.caption("Pixel-space L∞ attacks (ε in /255 units), normalisation inside the model, "
           "eval mode during the attack. Predictions and Grad-CAM for the clean and the attacked image. "
           "The worst case runs an AutoAttack-style ensemble (APGD-CE, APGD-T, Square) and names the attack "
           "that broke the image; PGD and FGSM are weak attacks, for comparison only.")

models = [m for m in list_models(ws) if m.error is None]
if not models:
    st.info("No trained models yet. Train some on **Symmetry models** or load the demo workspace on **Home**.")
    st.stop()

# ---------------------------------------------------------------- inputs
with st.sidebar:
    st.subheader("Models")
    labels = [m.label for m in models]
    default_b = 1 if len(models) > 1 else 0
    first = st.selectbox("Model A", range(len(models)), format_func=labels.__getitem__, key="al_model_a")
    compare = st.checkbox("Compare with a second model", value=len(models) > 1, key="al_compare")
    second = (st.selectbox("Model B", range(len(models)), index=default_b, format_func=labels.__getitem__,
                           key="al_model_b") if compare else None)
    st.subheader("Attack")
    method = st.radio("Method", list(attack_lab.METHODS), format_func=attack_lab.METHODS.__getitem__,
                      key="al_method")
    eps255 = st.slider("ε (/255)", 0.0, 32.0, 8.0, 0.5, key="al_eps")
    steps = st.slider("Steps (APGD, FAB-T, PGD)", 1, 100, 10, key="al_steps",
                      disabled=method not in attack_lab.STEPPED)
    st.subheader("View")
    rotation = st.slider("Rotation (°)", -180, 180, 0, 5, key="al_rotation")
    scale = st.slider("Scale", 0.5, 1.5, 1.0, 0.05, key="al_scale")

sources = image_sources.list_sources(ws)
source_names = [s.title for s in sources]
c1, c2 = st.columns([2, 1])
pick = c1.selectbox("Image", range(len(sources)), format_func=source_names.__getitem__, key="al_image")
upload = c2.file_uploader("…or upload one", type=None, key="al_upload", max_upload_size=uploads.max_upload_mb())
try:
    if upload is not None:
        image = image_sources.from_upload(upload.getvalue(), upload.name)
    else:
        image = image_sources.load_source(ws, sources[pick])
except Exception as exc:  # noqa: BLE001 - bad files are messages, not tracebacks
    _ui.show_error(exc)
    st.stop()

roi_mode = None
if image.roi is not None:
    choice = st.radio("Perturb", ["everywhere", "inside the ROI", "outside the ROI"], horizontal=True,
                      key="al_roi")
    roi_mode = {"inside the ROI": "inside", "outside the ROI": "outside"}.get(choice)


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def _model(path: str, mtime: float):
    entry = next(m for m in models if str(m.path) == path)
    model = load_model(entry)
    attack_lab.warm_up(model, entry.config.get("in_channels", 1), entry.config.get("image_size", 32))
    return model


def _show(entry, column) -> float:
    model = _model(str(entry.path), entry.modified)
    cfg = entry.config
    x = attack_lab.to_model_input(image.pixels, cfg.get("in_channels", 1), cfg.get("image_size", 32))
    x = attack_lab.transform_input(x, rotation, scale)
    roi = attack_lab.transform_roi(image.roi, x.shape[-1], rotation, scale) if roi_mode else None
    label = image.label if image.label is not None and image.label < cfg.get("num_classes", 10) else None
    try:
        view = attack_lab.analyse(model, x, attack=method, eps=eps255 / 255, steps=steps, label=label,
                                  roi=roi, roi_mode=roi_mode or "inside",
                                  class_names=cfg.get("extra", {}).get("class_names"))
    except EquiGuardError as exc:
        with column:
            st.subheader(entry.name)
            _ui.show_error(exc)
        return 0.0
    with column:
        st.subheader(entry.name)
        for message in view.warnings:
            st.warning(message, icon=":material/warning:")
        verdict = ":red[prediction flipped]" if view.flipped else ":green[prediction held]"
        if view.broken_by:
            verdict += f" (by {view.broken_by})"
        if label is not None:
            right = view.clean_top[0].index == label
            verdict = (":green[clean correct]" if right else ":orange[clean already wrong]") + " · " + verdict
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
            g.image(attack_lab.overlay(view.clean, view.cam_clean), caption="Grad-CAM, clean",
                    width="stretch")
            h.image(attack_lab.overlay(view.adversarial, view.cam_adversarial), caption="Grad-CAM, adversarial",
                    width="stretch")
            st.caption("Explanation drift: " + ", ".join(f"{k} {v:.3f}" for k, v in view.drift.items()))
    return view.seconds


chosen = [models[first]] + ([models[second]] if second is not None else [])
columns = st.columns(len(chosen))
elapsed = sum(_show(entry, col) for entry, col in zip(chosen, columns))
st.caption(f"Computed in {elapsed * 1000:.0f} ms · image: {image.title}"
           + (f" · true class {image.label}" if image.label is not None else ""))
