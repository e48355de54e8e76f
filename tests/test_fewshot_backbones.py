"""Symmetry-aware few-shot backbones: contract, exact C4 invariance, stems, export, checkpoints, guidance."""

from __future__ import annotations

import pytest
import torch
from e2cnn import nn as enn

from core.errors import ConfigError, LoadError
from core.explain import GradCAM, soft_dice_loss
from core.fewshot import (SYMMETRY_BACKBONES, ProtoNet, TrainConfig, brain_phantom, build_backbone, episode_step,
                          load_checkpoint, model_config, save_checkpoint)
from core.fewshot.sampler import EpisodicSampler
from core.models import relative_error, scale_equivariance_error, smooth_test_images


def _net(name: str, channels: int, size: int, hidden: int = 16, dtype=torch.float32) -> ProtoNet:
    """A ProtoNet whose BatchNorm statistics are not the identity (a few train-mode batches), in eval mode."""
    net = ProtoNet(build_backbone(name, channels, hidden, image_size=size), embed_dim=12).to(dtype)
    net.train()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(2):
            net(torch.rand(6, channels, size, size, generator=gen, dtype=dtype))
    return net.eval()


def _hooked_shape(model: torch.nn.Module, layer: torch.nn.Module, x: torch.Tensor) -> tuple[int, ...]:
    seen = []
    handle = layer.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    with torch.no_grad():
        model(x)
    handle.remove()
    assert len(seen) == 1
    return seen[0]


@pytest.mark.parametrize("name", SYMMETRY_BACKBONES)
@pytest.mark.parametrize("channels,size", [(1, 64), (3, 128)])
def test_contract_cam_layer_and_export(name, channels, size):
    net = _net(name, channels, size)
    x = torch.rand(2, channels, size, size)
    with torch.no_grad():
        z = net(x)
    assert z.shape == (2, 12) and torch.isfinite(z).all()
    cam = _hooked_shape(net, net.cam_layer, x)
    assert cam[0] == 2 and cam[-1] == size // 8  # Conv4's layout: three 2x pools
    exported = net.export()
    assert not exported.training and not any(type(m).__module__.startswith("e2cnn") for m in exported.modules())
    with torch.no_grad():
        torch.testing.assert_close(exported(x), z, atol=1e-5, rtol=1e-5)
    assert _hooked_shape(exported, exported.cam_layer, x) == cam
    assert net.backbone.cam_layer is net.cam_layer and not net.backbone.exported and exported.backbone.exported


@pytest.mark.parametrize("channels,size", [(1, 64), (3, 128)])
def test_equivariant_embedding_invariant_to_90_degrees_also_exported(channels, size):
    net = _net("equivariant", channels, size)
    exported = net.export()
    x = torch.rand(3, channels, size, size)
    with torch.no_grad():
        ref, ref_exported = net(x), exported(x)
        for k in (1, 2, 3):
            xr = torch.rot90(x, k, dims=(2, 3))
            assert relative_error(net(xr), ref) < 1e-5
            assert relative_error(exported(xr), ref_exported) < 1e-5
        # The same test fails for a plain backbone, so it can fail.
        conv4 = _net("conv4", channels, size)
        assert relative_error(conv4(torch.rot90(x, 1, dims=(2, 3))), conv4(x)) > 1e-3


@pytest.mark.parametrize("name", ["parallel_rot", "parallel_rot_scale"])
def test_parallel_stem_rotation_branch_exactly_equivariant(name):
    net = _net(name, 3, 64)
    branch = net.backbone.features.stem.branches["rotation"]
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = branch(x)
        for g in branch.in_type.gspace.testing_elements:
            moved = enn.GeometricTensor(x, branch.in_type).transform(g).tensor
            expected = enn.GeometricTensor(out, branch.out_type).transform(g).tensor
            assert relative_error(branch(moved), expected) < 1e-5, g
        # The standard branch beside it is not equivariant (the check can fail).
        standard = net.backbone.features.stem.branches["standard"]
        assert relative_error(standard(torch.rot90(x, 1, (2, 3))), torch.rot90(standard(x), 1, (2, 3))) > 1e-3


@pytest.mark.parametrize("name", ["parallel_scale", "parallel_rot_scale"])
def test_parallel_stem_scale_branch_equivariant_before_scale_pooling(name):
    net = _net(name, 1, 64)
    stem = net.backbone.features.stem
    before_pool = torch.nn.Sequential(*list(stem.branches["scale"])[:-1])
    x = smooth_test_images(4, 1, 96, seed=1)
    step = net.backbone.config.scale_step
    err = scale_equivariance_error(before_pool, x, step)
    err_plain = scale_equivariance_error(stem.branches["standard"], x, step, shift=0)
    assert err < 0.2, err  # measured ~0.13 (lift + BN + ReLU), as for the classifiers
    assert err < 0.6 * err_plain, (err, err_plain)


def test_cascaded_stage_output_rotates_with_input():
    net = _net("cascaded", 3, 64)
    stage = net.backbone.features.stage
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = stage(x)
        assert out.shape == (2, net.backbone.config.rotation_fields(16), 32, 32)
        for k in (1, 2, 3):
            assert relative_error(stage(torch.rot90(x, k, (2, 3))), torch.rot90(out, k, (2, 3))) < 1e-5


def test_pool_plan_checked_against_the_input_size():
    bb = build_backbone("equivariant", 1, 8, image_size=64)
    assert bb(torch.rand(1, 1, 96, 96)).shape[-1] == 12  # 96, 48, 24: even like 64's levels
    with pytest.raises(ConfigError, match="pools differently"):
        bb(torch.rand(1, 1, 100, 100))  # 100 -> 50 -> 25: the third pool would need a 3x3 window
    with pytest.raises(ConfigError, match="expects"):
        bb(torch.rand(1, 3, 64, 64))
    odd = build_backbone("equivariant", 1, 8, image_size=100)
    assert odd(torch.rand(1, 1, 100, 100)).shape[-1] == 13
    with pytest.raises(ConfigError):
        build_backbone("equivariant", 1, 1)


@pytest.mark.parametrize("name", SYMMETRY_BACKBONES)
def test_checkpoint_reloads_strictly(tmp_path, name):
    net = _net(name, 1, 64, hidden=8)
    support = torch.rand(6, 1, 64, 64)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    config = model_config(net, 1, 8, name)
    assert config["image_size"] == 64
    path = save_checkpoint(tmp_path / "fs.pt", net, config, support, labels, ["a", "b", "c"])
    loaded, payload = load_checkpoint(path)
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x))
    # A stored weight that does not fit the architecture is refused, not skipped.
    payload["state_dict"] = {k: v for k, v in payload["state_dict"].items() if "head" not in k}
    torch.save(payload, tmp_path / "cut.pt")
    with pytest.raises(LoadError, match="does not match"):
        load_checkpoint(tmp_path / "cut.pt")


def test_weights_file_loads_strictly_into_a_symmetry_backbone(tmp_path):
    source = build_backbone("cascaded", 3, 8)
    torch.save(source.state_dict(), tmp_path / "w.pt")
    loaded = build_backbone("cascaded", 3, 8, weights_path=tmp_path / "w.pt")
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    with pytest.raises(LoadError, match="does not match"):
        build_backbone("equivariant", 3, 8, weights_path=tmp_path / "w.pt")


@pytest.fixture(scope="module")
def episode_data():
    data = brain_phantom(6, 3, 32, seed=3)
    episode = EpisodicSampler(data.labels, 3, 2, 1, episodes=1, seed=0).sample()
    return data, episode


@pytest.mark.parametrize("name", SYMMETRY_BACKBONES)
def test_dice_guided_training_step_through_each_backbone(name, episode_data):
    data, episode = episode_data
    torch.manual_seed(0)
    net = ProtoNet(build_backbone(name, 3, 8), embed_dim=8).train()
    config = TrainConfig(way=3, shot=2, query=1, guidance="dice", alpha=1.0)
    loss, parts = episode_step(net, data, episode, config)
    assert torch.isfinite(loss) and parts["exp_loss"] > 0
    loss.backward()
    first = next(p for p in net.backbone.parameters())  # the first conv (an R2Conv's weights where there is one)
    assert first.grad is not None and float(first.grad.abs().sum()) > 0


def test_dice_loss_gradcheck_through_the_equivariant_backbone():
    """Second-order Grad-CAM + soft Dice, differentiated w.r.t. the first R2Conv's weights (double precision)."""
    torch.manual_seed(0)
    net = ProtoNet(build_backbone("equivariant", 1, 4, image_size=16), embed_dim=3).double().train()
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(3, 1, 16, 16, generator=gen, dtype=torch.float64)
    mask = (torch.rand(3, 16, 16, generator=gen) > 0.6).double()
    protos = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2])
    # The first e2cnn R2Conv: its filter is expanded from ``weights`` at every train-mode forward.
    conv = next(iter(net.backbone.features.block0.module.children()))
    saved = conv.weights

    def loss_of(weights: torch.Tensor, create_graph: bool = True) -> torch.Tensor:
        del conv.weights
        conv.weights = weights  # functional swap so gradcheck can perturb it
        try:
            with GradCAM(net, net.cam_layer, create_graph=create_graph) as cam:
                maps = cam(x, lambda z: -((z - protos[labels]) ** 2).sum(1))
            return soft_dice_loss(maps, mask)
        finally:
            del conv.weights
            conv.weights = saved

    probe = saved.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(loss_of, (probe,), eps=1e-6, atol=1e-5, fast_mode=True)
    assert float(torch.autograd.grad(loss_of(probe), probe)[0].abs().sum()) > 0
    # First-order Grad-CAM (the paper's code) leaves out the channel weights' part: the check can fail.
    assert not torch.autograd.gradcheck(lambda w: loss_of(w, False), (probe,), eps=1e-6, atol=1e-5,
                                        fast_mode=True, raise_exception=False)


def test_conv4_export_is_an_eval_copy():
    net = _net("conv4", 3, 64)
    x = torch.rand(2, 3, 64, 64)
    exported = net.export()
    assert exported is not net and not exported.training
    with torch.no_grad():
        torch.testing.assert_close(exported(x), net(x))
