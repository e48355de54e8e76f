"""The attack lab's computation (core.studio.attack_lab): invariants on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.models import ModelConfig, build_model
from core.studio import attack_lab


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(ModelConfig(arch="baseline", in_channels=1, num_classes=10, image_size=32)).export()


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return rng.random((48, 40)).astype(np.float32)


def test_to_model_input_shapes_and_range(image):
    x = attack_lab.to_model_input(image, 1, 32)
    assert x.shape == (1, 1, 32, 32) and 0 <= float(x.min()) and float(x.max()) <= 1
    rgb = attack_lab.to_model_input(np.stack([image] * 3, -1), 3, 32)
    assert rgb.shape == (1, 3, 32, 32)
    assert torch.allclose(attack_lab.to_model_input(np.stack([image] * 3, -1), 1, 32), x, atol=1e-6)


@pytest.mark.parametrize("method", list(attack_lab.METHODS))
def test_perturbation_respects_eps_and_pixel_range(model, image, method):
    x = attack_lab.to_model_input(image, 1, 32)
    view = attack_lab.analyse(model, x, attack=method, eps=8 / 255, steps=5)
    assert view.attack == attack_lab.METHODS[method] and view.warnings == []
    assert view.linf <= 8 / 255 + 1e-6
    assert view.adversarial.min() >= 0 and view.adversarial.max() <= 1
    assert np.isclose(np.abs(view.adversarial - view.clean).max(), view.linf, atol=1e-6)
    assert len(view.clean_top) == 3 and view.clean_top[0].probability >= view.clean_top[1].probability
    assert view.cam_clean.shape == (32, 32) and 0 <= view.cam_clean.min() and view.cam_clean.max() <= 1


def test_zero_eps_changes_nothing(model, image):
    x = attack_lab.to_model_input(image, 1, 32)
    view = attack_lab.analyse(model, x, attack="pgd", eps=0.0, steps=3)
    assert view.linf == 0 and not view.flipped
    assert np.array_equal(view.clean, view.adversarial)
    assert np.allclose(view.perturbation, 0.5)
    assert view.drift["1 − soft Dice"] == pytest.approx(view.drift["self floor"], abs=1e-6)


@pytest.mark.parametrize("method", ["fgsm", "autoattack"])
def test_roi_restriction_leaves_the_other_pixels_alone(model, image, method):
    x = attack_lab.to_model_input(image, 1, 32)
    roi = np.zeros((32, 32), bool)
    roi[8:20, 10:24] = True
    inside = attack_lab.analyse(model, x, attack=method, eps=16 / 255, roi=roi, roi_mode="inside")
    outside = attack_lab.analyse(model, x, attack=method, eps=16 / 255, roi=roi, roi_mode="outside")
    delta_in = np.abs(inside.adversarial - inside.clean)
    delta_out = np.abs(outside.adversarial - outside.clean)
    assert delta_in[~roi].max() == 0 and delta_in[roi].max() > 0
    assert delta_out[roi].max() == 0 and delta_out[~roi].max() > 0


def test_identity_transform_and_rotated_roi_keeps_its_size(image):
    x = attack_lab.to_model_input(image, 1, 32)
    assert torch.equal(attack_lab.transform_input(x, 0.0, 1.0), x)
    roi = np.zeros((48, 40), bool)
    roi[10:30, 5:25] = True
    moved = attack_lab.transform_roi(roi, 32, 90.0, 1.0)
    assert moved.shape == (32, 32) and abs(int(moved.sum()) - int(attack_lab.transform_roi(roi, 32).sum())) <= 40


def test_worst_case_names_the_attack_that_broke_the_image(model, image):
    x = attack_lab.to_model_input(image, 1, 32)
    view = attack_lab.analyse(model, x, attack="autoattack", eps=32 / 255)
    assert view.flipped and view.broken_by in ("apgd-ce", "apgd-t", "square")
    held = attack_lab.analyse(model, x, attack="autoattack", eps=0.0)
    assert not held.flipped and held.broken_by is None


def test_bad_attack_model_pairs_are_config_errors_or_warnings(image):
    from torch import nn

    from core.errors import ConfigError

    x = attack_lab.to_model_input(image, 1, 32)
    torch.manual_seed(0)
    two_class = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 2)).eval()
    with pytest.raises(ConfigError, match="at least 4 classes"):
        attack_lab.analyse(two_class, x, attack="apgd-t", eps=8 / 255)
    with pytest.raises(ConfigError, match="unknown attack"):
        attack_lab.analyse(two_class, x, attack="cw", eps=8 / 255)
    probabilities = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 10), nn.Softmax(dim=1)).eval()
    view = attack_lab.analyse(probabilities, x, attack="apgd-ce", eps=8 / 255, steps=3)
    assert len(view.warnings) == 1 and "probabilities" in view.warnings[0]
