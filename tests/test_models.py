"""Model contract, exact C4 equivariance of the rotation parts, export equivalence."""

from __future__ import annotations

import pytest
import torch
from e2cnn import nn as enn

from core.errors import ConfigError
from core.models import (ARCHITECTURES, PRESETS, EquivariantBlock, ModelConfig, build_model,
                         rotation_conv_block, rotation_gspace, rotation_pool, trivial_type)


def _trained_like(model: torch.nn.Module) -> torch.nn.Module:
    """Run a few train-mode batches so BatchNorm statistics are not the identity, then eval."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(8, model.config.in_channels, model.config.image_size, model.config.image_size))
    return model.eval()


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).detach().norm() / b.detach().norm().clamp_min(1e-12))


def test_config_round_trip_and_validation():
    cfg = ModelConfig(arch="parallel_rot", preset="tiny", rotation_order=8)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.widths == PRESETS["tiny"].widths
    with pytest.raises(ConfigError):
        ModelConfig(arch="nope")
    with pytest.raises(ConfigError):
        ModelConfig(arch="baseline", in_channels=3, mean=(0.5,), std=(0.5,))
    with pytest.raises(ConfigError):
        ModelConfig.from_dict({"arch": "baseline", "bogus": 1})


def test_paper_preset_matches_official_widths():
    model = build_model(ModelConfig(arch="baseline", preset="paper", in_channels=3, mean=(0.5,) * 3,
                                    std=(0.5,) * 3))
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 32, 64, 64, 128, 128, 256, 256, 256]
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in model.modules()) == 5


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_contract_and_export_match(arch):
    model = _trained_like(build_model(ModelConfig(arch=arch)))
    x = torch.rand(4, 1, 32, 32)
    logits = model(x)
    assert logits.shape == (4, 10)
    exported = model.export()
    assert exported.config == model.config and not exported.training
    assert not any(type(m).__module__.startswith("e2cnn") for m in exported.modules())
    torch.testing.assert_close(exported(x), logits, atol=1e-5, rtol=1e-5)
    # Grad-CAM hook point exists in both forms and sees a spatial map.
    seen = []
    handle = exported.cam_layer.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    exported(x)
    handle.remove()
    assert len(seen) == 1 and len(seen[0]) == 4 and seen[0][-1] > 1


@pytest.mark.parametrize("order", [4, 8])
def test_equivariant_logits_invariant_to_90_degrees(order):
    model = _trained_like(build_model(ModelConfig(arch="equivariant", rotation_order=order)))
    exported = model.export()
    x = torch.rand(3, 1, 32, 32)
    ref = model(x)
    for k in (1, 2, 3):
        xr = torch.rot90(x, k, dims=(2, 3))
        assert _rel(model(xr), ref) < 1e-5
        assert _rel(exported(xr), ref) < 1e-5
    # The baseline is not invariant: the test above can fail.
    base = _trained_like(build_model(ModelConfig(arch="baseline")))
    assert _rel(base(torch.rot90(x, 1, dims=(2, 3))), base(x)) > 1e-3


def _block(order: int, size: int) -> tuple[EquivariantBlock, torch.Tensor]:
    gspace = rotation_gspace(order)
    layers = rotation_conv_block(trivial_type(gspace, 2), 3)
    regular = layers[0].out_type
    layers += rotation_conv_block(regular, 3)
    pool, _ = rotation_pool(regular, size)
    block = EquivariantBlock(enn.SequentialModule(*layers, pool))
    return block, torch.rand(2, 2, size, size)


@pytest.mark.parametrize("size", [16, 15])
def test_c4_block_equivariant_exactly_even_and_odd_grids(size):
    block, x = _block(4, size)
    block = _trained_like_block(block, x)
    gx = enn.GeometricTensor(x, block.in_type)
    out = block(x)
    for g in block.in_type.gspace.testing_elements:
        moved_in = gx.transform(g).tensor
        expected = enn.GeometricTensor(out, block.out_type).transform(g).tensor
        assert _rel(block(moved_in), expected) < 1e-5, g


def _trained_like_block(block: EquivariantBlock, x: torch.Tensor) -> EquivariantBlock:
    block.train()
    with torch.no_grad():
        block(x)
    return block.eval()


def test_naive_pool_on_odd_grid_breaks_equivariance():
    """Oracle for the pooling rule: MaxPool2d(2) on an odd grid is not rotation-symmetric."""
    x = torch.rand(1, 1, 15, 15)
    pool = torch.nn.MaxPool2d(2)
    assert _rel(pool(torch.rot90(x, 1, (2, 3))), torch.rot90(pool(x), 1, (2, 3))) > 1e-2


def test_c8_layer_45_degrees_within_measured_bound():
    gspace = rotation_gspace(8)
    block = EquivariantBlock(enn.SequentialModule(*rotation_conv_block(trivial_type(gspace, 2), 3)))
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 33), torch.linspace(-1, 1, 33), indexing="ij")
    # Smooth blobs inside the inscribed disc: rotating the image itself by 45 degrees
    # (interpolation) is then accurate, so the error measured is the layer's.
    x = torch.stack([torch.exp(-((xx - 0.2) ** 2 + yy ** 2) / 0.1), torch.exp(-(xx ** 2 + (yy + 0.3) ** 2) / 0.05)])
    x = (x * (xx ** 2 + yy ** 2 < 0.8)).unsqueeze(0)
    block = _trained_like_block(block, x)
    gx = enn.GeometricTensor(x, block.in_type)
    out = block(x)

    def err(g: int) -> float:
        return _rel(block(gx.transform(g).tensor), enn.GeometricTensor(out, block.out_type).transform(g).tensor)

    assert err(2) < 1e-5  # 90 degrees maps the grid onto itself: exact
    assert 1e-5 < err(1) < 0.1  # 45 degrees: measured 0.004-0.035 over inits (filter/image interpolation)


def test_parallel_rotation_branch_equivariant():
    model = _trained_like(build_model(ModelConfig(arch="parallel_rot")))
    branch = model.features.stem.branches["rotation"]
    x = torch.rand(2, 1, 32, 32)
    out = branch(x)
    for g in branch.in_type.gspace.testing_elements:
        moved = enn.GeometricTensor(x, branch.in_type).transform(g).tensor
        assert _rel(branch(moved), enn.GeometricTensor(out, branch.out_type).transform(g).tensor) < 1e-5


def test_cascaded_stage_outputs_rotate_with_input():
    model = _trained_like(build_model(ModelConfig(arch="cascaded")))
    stage = model.features.stage
    x = torch.rand(2, 1, 32, 32)
    out = stage(x)
    assert out.shape == (2, model.config.rotation_fields(8), 16, 16)
    for k in (1, 2, 3):
        assert _rel(stage(torch.rot90(x, k, (2, 3))), torch.rot90(out, k, (2, 3))) < 1e-5


def test_loading_weights_into_eval_model_refreshes_e2cnn_filter_cache():
    source = _trained_like(build_model(ModelConfig(arch="equivariant")))
    target = build_model(ModelConfig(arch="equivariant")).eval()
    x = torch.rand(2, 1, 32, 32)
    target(x)  # builds the cache from target's own initial weights
    target.load_state_dict(source.state_dict())
    torch.testing.assert_close(target(x), source(x), atol=1e-6, rtol=1e-6)


def test_models_do_not_share_e2cnn_state_and_keep_double_precision():
    """e2cnn shares basis modules between convs and pools in float32; ours must not (gradcheck needs double)."""
    first = build_model(ModelConfig(arch="equivariant")).double()
    second = build_model(ModelConfig(arch="equivariant"))
    x = torch.rand(2, 1, 32, 32)
    assert second(x).dtype == torch.float32  # converting ``first`` left ``second``'s basis alone
    assert first(x.double()).dtype == torch.float64
    assert first.features.invariant(first.features[:-1](first.normalize(x.double()))).dtype == torch.float64
