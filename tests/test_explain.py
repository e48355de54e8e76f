"""Grad-CAM against pytorch-grad-cam, second-order gradients, Dice loss, alignment metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.errors import ConfigError
from core.explain import (ClassLogitTarget, GradCAM, GradCAMPlusPlus, PrototypeDistanceTarget,
                          cam_alignment, rrr_penalty, soft_dice, soft_dice_loss)



def _net(act=nn.ReLU, classes=4, dtype=torch.float32):
    torch.manual_seed(3)
    layer = nn.Conv2d(8, 12, 3, padding=1)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), act(), nn.MaxPool2d(2), layer, act(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12 * 4 * 4, classes))
    return net.to(dtype).eval(), layer


def _reference(cls, net, layer, x, classes):
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with cls(model=net, target_layers=[layer]) as ref:
        return ref(input_tensor=x, targets=[ClassifierOutputTarget(int(k)) for k in classes])


@pytest.mark.parametrize("ours,theirs", [("GradCAM", "GradCAM"), ("GradCAMPlusPlus", "GradCAMPlusPlus")])
def test_matches_pytorch_grad_cam(ours, theirs):
    import pytorch_grad_cam

    net, layer = _net()
    x = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    classes = torch.tensor([0, 1, 2, 3, 1, 2])
    ref = _reference(getattr(pytorch_grad_cam, theirs), net, layer, x, classes)
    # Same layer, our own fresh hooks: ReLU -> bilinear upsampling -> min-max.
    # pytorch-grad-cam also min-max scales before resizing; scaling is affine and
    # bilinear resizing is linear, so the final maps agree up to its 1e-7 epsilon.
    cls = {"GradCAM": GradCAM, "GradCAMPlusPlus": GradCAMPlusPlus}[ours]
    with cls(net, layer) as cam:
        maps = cam(x, classes)
    assert maps.shape == (6, 16, 16)
    assert ref.shape == (6, 16, 16)
    np.testing.assert_allclose(maps.detach().numpy(), ref, atol=2e-4)
    assert float(maps.detach().min()) >= 0.0 and float(maps.detach().max()) <= 1.0


def test_int_and_tensor_targets_are_class_logit_shorthand():
    net, layer = _net()
    x = torch.rand(3, 3, 16, 16)
    with GradCAM(net, layer) as cam:
        a = cam(x, 2)
        b = cam(x, torch.tensor([2, 2, 2]))
        c = cam(x, ClassLogitTarget(2))
        d = cam(x, ClassLogitTarget(1))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)
    assert not torch.allclose(a, d)


def test_hooks_released_on_exit():
    net, layer = _net()
    assert len(layer._forward_hooks) == 0
    with GradCAM(net, layer) as cam:
        assert len(layer._forward_hooks) == 1
        cam(torch.rand(1, 3, 16, 16), 0)
    assert len(layer._forward_hooks) == 0
    with pytest.raises(ConfigError):
        cam(torch.rand(1, 3, 16, 16), 0)


def test_rejects_foreign_layer_and_bad_target():
    net, _ = _net()
    with pytest.raises(ConfigError):
        GradCAM(net, nn.Conv2d(1, 1, 1))
    with GradCAM(net, net[0]) as cam, pytest.raises(ConfigError):
        cam(torch.rand(2, 3, 16, 16), lambda out: out)  # (B, K), not (B,)


def test_frozen_model_without_input_grad():
    net, layer = _net()
    for p in net.parameters():
        p.requires_grad_(False)
    with torch.no_grad(), GradCAM(net, layer) as cam:
        maps = cam(torch.rand(2, 3, 16, 16), 1)
    assert maps.shape == (2, 16, 16) and float(maps.detach().max()) > 0.99


def _dice_loss_on_cam(net, layer, x, mask, create_graph):
    with GradCAM(net, layer, create_graph=create_graph) as cam:
        maps = cam(x, torch.arange(x.shape[0]) % 4)
    return soft_dice_loss(maps, mask)


def test_second_order_gradients_are_exact_and_differ_from_first_order():
    net, layer = _net(act=nn.Softplus, dtype=torch.float64)
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(2, 3, 16, 16, generator=gen, dtype=torch.float64)
    mask = (torch.rand(2, 16, 16, generator=gen) > 0.7).double()
    w = layer.weight

    def loss_of(weight, create_graph):
        saved = layer.weight
        del layer.weight
        layer.weight = weight  # functional swap so gradcheck can perturb it
        try:
            return _dice_loss_on_cam(net, layer, x, mask, create_graph)
        finally:
            layer.weight = saved

    probe = w.detach().clone().requires_grad_(True)
    # fast_mode checks a random projection of the Jacobian: same bug-finding power, far fewer passes.
    assert torch.autograd.gradcheck(lambda v: loss_of(v, True), (probe,), eps=1e-6, atol=1e-5, fast_mode=True)
    assert not torch.autograd.gradcheck(lambda v: loss_of(v, False), (probe,), eps=1e-6, atol=1e-5,
                                        fast_mode=True, raise_exception=False)
    g2 = torch.autograd.grad(loss_of(probe, True), probe)[0]
    g1 = torch.autograd.grad(loss_of(probe, False), probe)[0]
    rel = float((g2 - g1).norm() / g2.norm())
    assert rel > 0.05, rel  # the weights' own gradient is a sizeable part


def test_dice_loss_gradcheck_double():
    gen = torch.Generator().manual_seed(0)
    p = torch.rand(3, 5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    g = (torch.rand(3, 5, 6, generator=gen) > 0.5).double()
    assert torch.autograd.gradcheck(lambda t: soft_dice_loss(t, g, eps=1e-3), (p,))
    assert torch.autograd.gradcheck(lambda t: soft_dice_loss(t, g, eps=1.0, reduction="none"), (p,))


def test_dice_values():
    g = torch.zeros(2, 4, 4)
    g[:, :2] = 1
    assert torch.allclose(soft_dice(g, g, eps=0.0), torch.ones(2))
    assert torch.allclose(soft_dice(1 - g, g, eps=0.0), torch.zeros(2))
    half = g * 0.5
    # 2 * 0.5 * 8 / (4 + 8)
    assert torch.allclose(soft_dice(half, g, eps=0.0), torch.full((2,), 8 / 12))
    with pytest.raises(ConfigError):
        soft_dice(g, g[0])
    with pytest.raises(ConfigError):
        soft_dice_loss(g, g, reduction="median")


def test_alignment_metrics_extremes():
    roi = torch.zeros(2, 8, 8, dtype=torch.bool)
    roi[:, 2:5, 2:5] = True
    perfect = cam_alignment(roi.float(), roi)
    for name in ("dice", "iou", "pointing", "energy"):
        assert torch.allclose(perfect[name], torch.ones(2), atol=1e-6), name
    outside = (~roi).float()
    worst = cam_alignment(outside, roi)
    for name in ("dice", "iou", "pointing", "energy"):
        assert torch.allclose(worst[name], torch.zeros(2), atol=1e-6), name
    partial = torch.zeros(2, 8, 8)
    partial[:, 2, 2] = 1.0
    partial[:, 7, 7] = 0.5
    m = cam_alignment(partial, roi)
    assert torch.allclose(m["energy"], torch.full((2,), 1 / 1.5))
    assert torch.allclose(m["pointing"], torch.ones(2))
    assert torch.allclose(m["iou"], torch.full((2,), 1 / 10))


def test_prototype_target_is_negative_distance_and_detached():
    emb = torch.randn(4, 5, requires_grad=True)
    protos = torch.randn(3, 5, requires_grad=True)
    labels = torch.tensor([0, 2, 1, 2])
    score = PrototypeDistanceTarget(protos, labels, metric="euclidean")(emb)
    expected = -(emb - protos[labels]).norm(dim=1)
    torch.testing.assert_close(score, expected)
    score.sum().backward()
    assert protos.grad is None and emb.grad is not None


def test_rrr_penalty_zero_inside_full_roi():
    net, _ = _net()
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    logp = torch.log_softmax(net(x), 1)
    full = torch.ones(2, 16, 16)
    assert float(rrr_penalty(x, logp, full).detach()) == 0.0
    x2 = torch.rand(2, 3, 16, 16, requires_grad=True)
    pen = rrr_penalty(x2, torch.log_softmax(net(x2), 1), torch.zeros(2, 16, 16))
    assert float(pen.detach()) > 0
    pen.backward()
    assert net[0].weight.grad is not None and float(net[0].weight.grad.abs().sum()) > 0


@pytest.mark.parametrize("arch", ["baseline", "parallel_rot"])
def test_equiguard_models_and_their_exports(arch):
    """Grad-CAM on the project's models (and their plain-PyTorch export) via ``model.cam_layer``."""
    from pytorch_grad_cam import GradCAM as TheirGradCAM

    from core.models import ModelConfig, build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, in_channels=1, num_classes=4, image_size=32)).eval()
    x = torch.rand(3, 1, 32, 32)
    classes = torch.tensor([0, 1, 3])
    with GradCAM(model, model.cam_layer) as cam:
        ours = cam(x, classes).detach()
    exported = model.export()
    with GradCAM(exported, exported.cam_layer) as cam:
        ours_exported = cam(x, classes).detach()
    torch.testing.assert_close(ours, ours_exported, atol=1e-4, rtol=1e-4)
    ref = _reference(TheirGradCAM, exported, exported.cam_layer, x, classes)
    np.testing.assert_allclose(ours_exported.numpy(), ref, atol=2e-4)
