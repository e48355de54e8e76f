"""CAM normalisations (min-max, sum, sigmoid, softmax) and the Dice loss on each: oracles and invariants."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.errors import ConfigError
from core.explain import (CAM_NORMALISATIONS, DISTRIBUTION_NORMALISATIONS, GradCAM, cam_alignment, cam_dice_loss,
                          normalise_cam, soft_dice_loss)


def _net():
    torch.manual_seed(3)
    layer = nn.Conv2d(8, 12, 3, padding=1)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), layer, nn.Tanh(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12 * 4 * 4, 4))
    return net.eval(), layer


@pytest.mark.parametrize("mode", CAM_NORMALISATIONS)
def test_maps_match_captum_raw_grad_cam_then_the_normalisation(mode):
    """captum's LayerGradCam gives the raw (signed) map; ours must be that map, upsampled and normalised."""
    from captum.attr import LayerAttribution, LayerGradCam

    net, layer = _net()
    x = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    classes = torch.tensor([0, 1, 2, 3, 1])
    raw = LayerGradCam(net, layer).attribute(x, target=classes, relu_attributions=False).squeeze(1).detach()
    if mode in ("minmax", "sum"):
        raw = raw.clamp_min(0)
    up = LayerAttribution.interpolate(raw.unsqueeze(1), (16, 16), interpolate_mode="bilinear").squeeze(1)
    flat = up.flatten(1)
    expected = {
        "minmax": (flat - flat.amin(1, keepdim=True)) / (flat.amax(1, keepdim=True) - flat.amin(1, keepdim=True)),
        "sum": flat / flat.sum(1, keepdim=True),
        "sigmoid": torch.sigmoid(flat),
        "softmax": torch.softmax(flat, 1),
    }[mode].view_as(up)
    with GradCAM(net, layer, normalise=mode) as cam:
        maps = cam(x, classes).detach()
    torch.testing.assert_close(maps, expected, atol=1e-5, rtol=1e-4)


def test_normalisation_ranges_and_invariances():
    gen = torch.Generator().manual_seed(0)
    raw = torch.randn(4, 5, 5, generator=gen)
    size = (10, 10)
    for mode in CAM_NORMALISATIONS:
        m = normalise_cam(raw, size, mode)
        assert m.shape == (4, 10, 10) and float(m.min()) >= 0 and float(m.max()) <= 1
        if mode in DISTRIBUTION_NORMALISATIONS:
            torch.testing.assert_close(m.flatten(1).sum(1), torch.ones(4))
    # min-max and sum ignore the map's scale; softmax ignores a constant shift; sigmoid sees both.
    for mode in ("minmax", "sum"):
        torch.testing.assert_close(normalise_cam(3 * raw, size, mode), normalise_cam(raw, size, mode))
    torch.testing.assert_close(normalise_cam(raw + 2, size, "softmax"), normalise_cam(raw, size, "softmax"))
    assert not torch.allclose(normalise_cam(3 * raw, size, "sigmoid"), normalise_cam(raw, size, "sigmoid"))
    assert float(normalise_cam(torch.zeros(1, 3, 3), (6, 6), "sum").abs().max()) == 0.0
    with pytest.raises(ConfigError, match="normalisation"):
        normalise_cam(raw, size, "zscore")
    with pytest.raises(ConfigError, match="normalisation"):
        GradCAM(*_net(), normalise="zscore")


def test_sum_normalised_dice_is_the_mass_inside_the_roi_and_sees_a_uniform_floor():
    roi = torch.zeros(2, 8, 8, dtype=torch.bool)
    roi[:, 2:5, 2:6] = True
    evidence = roi.float() + torch.tensor([0.0, 0.3]).view(2, 1, 1)  # image 1: the same evidence on a uniform floor
    for mode in DISTRIBUTION_NORMALISATIONS:
        maps = normalise_cam(evidence if mode == "sum" else torch.log(evidence + 1e-9), (8, 8), mode)
        loss = cam_dice_loss(maps, roi, mode, eps=0.0, reduction="none")
        energy = cam_alignment(maps, roi)["energy"]
        torch.testing.assert_close(loss, 1 - energy, atol=1e-6, rtol=0)
        assert float(loss[0]) == pytest.approx(0.0, abs=1e-6) and float(loss[1]) > 0.3
    # Min-max subtracts the floor: both images give the same, perfect loss.
    maps = normalise_cam(evidence, (8, 8), "minmax")
    loss = cam_dice_loss(maps, roi, "minmax", eps=0.0, reduction="none")
    torch.testing.assert_close(loss, soft_dice_loss(maps, roi.float(), eps=0.0, reduction="none"))
    assert float(loss.abs().max()) < 1e-6


@pytest.mark.parametrize("mode", CAM_NORMALISATIONS)
def test_dice_loss_gradcheck_through_each_normalisation(mode):
    gen = torch.Generator().manual_seed(2)
    raw = torch.randn(2, 4, 4, dtype=torch.float64, generator=gen).requires_grad_(True)
    roi = torch.zeros(2, 8, 8, dtype=torch.bool)
    roi[:, 1:5, 2:7] = True
    if mode in ("minmax", "sum"):
        raw.data.abs_().add_(0.1)  # keep away from ReLU's kink and min/max ties
    assert torch.autograd.gradcheck(lambda r: cam_dice_loss(normalise_cam(r, (8, 8), mode), roi, mode), (raw,))
