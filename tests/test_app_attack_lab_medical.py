"""The Attack lab page on a medical workspace (AppTest): default view, ROI modes, pairing and bad-input messages."""

from __future__ import annotations

import pytest
import torch
from streamlit.testing.v1 import AppTest

from conftest import open_page
from lab_workspace import RUN, build_lab_workspace



@pytest.fixture(scope="module")
def lab_ws(tmp_path_factory):
    """Demo data, a guided and an unguided few-shot run, a digits classifier, and a checkpoint without support set."""
    from core.models import ModelConfig, build_model
    from core.training import save_checkpoint

    ws = build_lab_workspace(tmp_path_factory.mktemp("lab") / "workspace")
    torch.manual_seed(0)
    digits = build_model(ModelConfig(arch="baseline", in_channels=1, num_classes=10, image_size=32))
    save_checkpoint(ws.checkpoints / "digits-tiny" / "model.pt", digits, metrics={"dataset": "digits"},
                    split={"dataset": "digits", "classes": [str(d) for d in range(10)]})
    payload = torch.load(ws.reports / "fewshot" / RUN / "none" / "checkpoint.pt", weights_only=True)
    for key in ("support_images", "support_labels"):
        payload.pop(key)
    (ws.checkpoints / "fewshot").mkdir(parents=True, exist_ok=True)
    torch.save(payload, ws.checkpoints / "fewshot" / "no-support.pt")
    return ws


@pytest.fixture
def lab(lab_ws, monkeypatch):
    return open_page(lab_ws.root, monkeypatch, "pages/attack_lab.py")


def _tables(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("| CAM vs expert ROI")]


def test_opens_on_a_phantom_with_its_roi_and_the_guided_and_unguided_models(lab):
    image = lab.selectbox(key="al_image")
    assert "brain-phantom" in image.options[image.index] and "ROI" in image.options[image.index]
    assert lab.selectbox(key="al_model_a").value == f"fewshot/{RUN}/dice"
    assert lab.selectbox(key="al_model_b").value == f"fewshot/{RUN}/none"
    assert lab.radio(key="al_method").value == "autoattack"  # the worst case is the default
    assert [s.value for s in lab.subheader if s.value.startswith("fewshot/")] == [f"fewshot/{RUN}/dice",
                                                                                   f"fewshot/{RUN}/none"]
    tables = _tables(lab)
    assert len(tables) == 2 and all("CAM–ROI Dice" in t and "pointing game" in t for t in tables)
    # Neither the digits classifier nor the phantom-free models are offered; the reason is given.
    assert not any(o.startswith("digits-tiny") for o in lab.selectbox(key="al_model_a").options)
    assert any("digits-tiny: this model expects 1-channel 32×32 digits images" in c.value for c in lab.caption)


def test_a_checkpoint_without_support_set_is_one_warning_and_nothing_else_breaks(lab):
    warnings = [w.value for w in lab.warning if "no-support" in w.value]
    assert len(warnings) == 1 and "without a support set" in warnings[0] and "\n" not in warnings[0]
    assert not any("no-support" in o for o in lab.selectbox(key="al_model_a").options)
    assert _tables(lab)


def test_roi_modes_restrict_the_attack_and_keep_the_numbers(lab):
    for mode in ("outside", "inside", "everywhere"):
        lab.radio(key="al_roi").set_value(mode).run()
        assert not lab.exception and not lab.error
        assert len(_tables(lab)) == 2
    lab.slider(key="al_rotation").set_value(90).run()
    lab.slider(key="al_scale").set_value(0.8).run()
    assert not lab.exception and len(_tables(lab)) == 2


def test_an_image_without_roi_and_an_roi_mode_is_one_message(lab):
    options = lab.selectbox(key="al_image").options
    lab.radio(key="al_roi").set_value("outside").run()
    digit = next(i for i, o in enumerate(options) if o.startswith("digits test #"))
    lab.selectbox(key="al_image").set_value(digit).run()
    assert not lab.exception
    errors = [e.value for e in lab.error]
    assert len(errors) == 1 and "no stored ROI" in errors[0] and "\n" not in errors[0]
    lab.radio(key="al_roi").set_value("everywhere").run()
    assert not lab.exception and not lab.error
    # The digits classifier is the only model that fits a digit; no few-shot model is offered for it.
    picker = lab.selectbox(key="al_model_a")
    assert picker.value == "digits-tiny" and len(picker.options) == 1


def test_an_image_no_model_fits_is_one_pairing_message(lab):
    options = lab.selectbox(key="al_image").options
    ct = next(i for i, o in enumerate(options) if o.startswith("CT_small.dcm"))
    lab.selectbox(key="al_image").set_value(ct).run()
    assert not lab.exception
    (warning,) = [w.value for w in lab.warning if "No model" in w.value]
    assert "\n" not in warning and "the image is a 1-channel 128×128" in warning
