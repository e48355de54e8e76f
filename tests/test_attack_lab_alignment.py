"""The Attack lab's medical parts: CAM–ROI numbers, image + ROI moved together, which models are offered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import ConfigError
from core.studio import attack_lab, lab_choices
from core.studio.image_sources import StudioImage
from core.studio.registry import ModelEntry
from core.studio.roi_alignment import alignment_pair, transform_with_roi

BRAIN = ["ring-enhancing", "homogeneous", "speckled"]


def _disc(size: int = 32, cy: float = 12, cx: float = 20, r: float = 6) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r ** 2


# ------------------------------------------------------------------ CAM–ROI numbers
def test_a_map_equal_to_the_roi_has_dice_one_and_points_inside():
    roi = _disc()
    cam = torch.from_numpy(roi.astype(np.float32))
    out = alignment_pair(cam, cam, roi)
    assert out["clean"]["dice"] == pytest.approx(1.0, abs=1e-6) and out["clean"]["pointing"] == 1.0
    assert out["clean"] == out["attacked"]


def test_dice_matches_its_formula_and_the_pointing_game_follows_the_maximum():
    rng = np.random.default_rng(0)
    roi = _disc()
    cam = rng.random(roi.shape).astype(np.float32) * 0.5
    inside, outside = np.argwhere(roi)[3], np.argwhere(~roi)[7]
    hit, miss = cam.copy(), cam.copy()
    hit[tuple(inside)], miss[tuple(outside)] = 1.0, 1.0
    out = alignment_pair(torch.from_numpy(hit), torch.from_numpy(miss), roi)
    for side, m in (("clean", hit), ("attacked", miss)):
        expected = (2 * (m * roi).sum() + 1e-6) / (m.sum() + roi.sum() + 1e-6)
        assert out[side]["dice"] == pytest.approx(float(expected), rel=1e-5)
    assert out["clean"]["pointing"] == 1.0 and out["attacked"]["pointing"] == 0.0
    with pytest.raises(ConfigError, match="the ROI is"):
        alignment_pair(torch.from_numpy(hit), torch.from_numpy(miss), roi[:-1])


# ------------------------------------------------------------------ image and ROI together
def test_quarter_turns_permute_image_and_roi_exactly():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.random((1, 3, 32, 32)).astype(np.float32))
    roi = _disc()
    for quarters in (1, 2, 3):
        moved, moved_roi = transform_with_roi(x, roi, 90.0 * quarters)
        assert torch.equal(moved, torch.rot90(x, quarters, dims=(2, 3)))
        assert np.array_equal(moved_roi, np.rot90(roi, quarters))


@pytest.mark.parametrize("rotation, scale", [(0.0, 1.0), (30.0, 1.0), (0.0, 0.7), (-45.0, 1.3)])
def test_the_roi_moves_exactly_like_an_image_whose_pixels_are_the_roi(rotation, scale):
    roi = _disc()
    as_image = torch.from_numpy(roi.astype(np.float32))[None, None].repeat(1, 3, 1, 1)
    moved, moved_roi = transform_with_roi(as_image, roi, rotation, scale)
    assert moved_roi.dtype == bool and moved_roi.shape == roi.shape
    assert np.array_equal(moved_roi, (moved[0, 0] >= 0.5).numpy())
    # Area scales with the square of the zoom (up to the rasterised rim).
    assert abs(moved_roi.sum() - roi.sum() * scale ** 2) <= 2 * np.pi * 6 * scale + 4


def test_transform_without_roi_and_bad_shapes():
    x = torch.rand(1, 1, 16, 16)
    moved, roi = transform_with_roi(x, None, 0.0, 1.0)
    assert roi is None and torch.equal(moved, x)
    with pytest.raises(ConfigError, match="the ROI is"):
        transform_with_roi(x, np.zeros((8, 8), bool))
    with pytest.raises(ConfigError, match="one image"):
        transform_with_roi(torch.rand(2, 1, 16, 16), None)


# ------------------------------------------------------------------ analyse with an ROI
@pytest.fixture(scope="module")
def model():
    from core.models import ModelConfig, build_model

    torch.manual_seed(0)
    return build_model(ModelConfig(arch="baseline", in_channels=1, num_classes=10, image_size=32)).export()


def test_analyse_reports_alignment_and_zero_eps_keeps_it(model):
    x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(3))
    roi = _disc()
    view = attack_lab.analyse(model, x, attack="pgd", eps=0.0, steps=2, roi=roi)
    assert view.alignment["clean"] == view.alignment["attacked"]
    assert np.array_equal(view.roi, roi) and view.label_name == str(view.label)
    moved = attack_lab.analyse(model, x, attack="pgd", eps=16 / 255, steps=5, roi=roi, roi_mode="everywhere")
    delta = np.abs(moved.adversarial - moved.clean)
    assert delta[roi].max() > 0 and delta[~roi].max() > 0  # "everywhere" restricts nothing
    assert set(moved.alignment["attacked"]) == {"dice", "pointing"}


def test_an_roi_mode_without_roi_is_a_one_line_config_error(model):
    x = torch.rand(1, 1, 32, 32)
    for mode in ("inside", "outside"):
        with pytest.raises(ConfigError, match="no stored ROI") as info:
            attack_lab.analyse(model, x, attack="fgsm", roi=None, roi_mode=mode)
        assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="unknown ROI mode"):
        attack_lab.analyse(model, x, attack="fgsm", roi_mode="around")
    assert attack_lab.analyse(model, x, attack="fgsm", eps=1 / 255).alignment == {}


# ------------------------------------------------------------------ what is offered
def _entry(name: str, kind: str, channels: int, size: int, classes, dataset, path: str | None = None, error=None):
    return ModelEntry(name, Path(path or f"/ws/checkpoints/{name}.pt"), "x", {"in_channels": channels,
                      "image_size": size}, kind=kind, class_names=list(classes), dataset=dataset, error=error)


def _phantom(roi: bool = True) -> StudioImage:
    return StudioImage(np.zeros((64, 64, 3), np.float32), "brain", label_name="speckled",
                       roi=_disc(64, 30, 30, 8) if roi else None, dataset="brain-phantom")


def test_offer_keeps_the_models_that_fit_and_says_why_the_others_do_not():
    guided = _entry("fs/dice", "fewshot", 3, 64, BRAIN, "brain-phantom", "/ws/reports/fewshot/demo/dice/checkpoint.pt")
    plain = _entry("fs/none", "fewshot", 3, 64, BRAIN, "brain-phantom", "/ws/reports/fewshot/demo/none/checkpoint.pt")
    sym = _entry("sym", "classifier", 3, 64, BRAIN, "brain-phantom:size=64")
    digits = _entry("digits", "classifier", 1, 32, [str(d) for d in range(10)], "digits")
    broken = _entry("broken", "fewshot", 0, 0, [], None,
                    error="broken.pt is a few-shot checkpoint without a support set")
    result = lab_choices.offer([digits, sym, plain, broken, guided], _phantom())
    assert [e.name for e in result.fits] == ["sym", "fs/none", "fs/dice"]
    assert set(result.mismatched) == {"digits"} and "digits images" in result.mismatched["digits"]
    assert result.unusable == {"broken": broken.error} and result.summary() is None
    # guided vs unguided of the same run first, in that order
    assert [result.fits[i].name for i in lab_choices.default_models(result.fits)] == ["fs/dice", "fs/none"]
    assert lab_choices.default_models([sym, plain]) == [1, 0]  # a few-shot model first, then the other kind
    assert lab_choices.default_models([sym]) == [0] and lab_choices.default_models([]) == []
    assert lab_choices.label_index(_phantom(), guided) == 2 and lab_choices.label_index(_phantom(), digits) is None
    nothing = lab_choices.offer([digits], _phantom())
    assert nothing.summary().startswith("No model of this workspace can classify this image: digits: ")


def test_model_input_checks_the_pair_and_moves_the_roi_with_the_image():
    guided = _entry("fs/dice", "fewshot", 3, 64, BRAIN, "brain-phantom")
    image = _phantom()
    x, roi = lab_choices.model_input(image, guided, 90.0, 1.0)
    assert x.shape == (1, 3, 64, 64) and np.array_equal(roi, np.rot90(image.roi))
    digits = _entry("digits", "classifier", 1, 32, [str(d) for d in range(10)], "digits")
    with pytest.raises(ConfigError, match="this model expects 1-channel 32×32 digits images"):
        lab_choices.model_input(image, digits)
    assert lab_choices.roi_problem(_phantom(roi=False), "outside").startswith("this image has no stored ROI")
    assert lab_choices.roi_problem(_phantom(roi=False), "everywhere") is None
