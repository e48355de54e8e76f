"""Independent explainers and explanation checks: captum / Quantus / scikit-image oracles, hand cases, invariants."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.errors import ConfigError
from core.explain import (EXPLAINERS, average_ranks, ClassProbabilityTarget, Explainer, IntegratedGradients, Occlusion,
                          build_explainer, cam_alignment, cascading_randomisation, deletion_insertion,
                          explainer_factory, randomisable_layers, randomisation_check, rank_correlation, ssim,
                          unit_maps)

# Quantus warns about parameter sensitivity on every construction; the values are what we test.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _net(in_channels: int = 3, classes: int = 4) -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(in_channels, 8, 3, padding=1), nn.Softplus(), nn.MaxPool2d(2),
                        nn.Conv2d(8, 12, 3, padding=1), nn.BatchNorm2d(12), nn.ReLU(), nn.Flatten(),
                        nn.Linear(12 * 8 * 8, classes))
    with torch.no_grad():  # non-trivial BatchNorm statistics, so eval and train mode differ
        net[4].running_mean.uniform_(-0.2, 0.2)
        net[4].running_var.uniform_(0.5, 2.0)
    return net.eval()


def _batch(n: int = 6, channels: int = 3, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, 16, 16, generator=gen), torch.arange(n) % 4


OPTIONS = {"gradcam": {"layer": "3"}, "gradcam++": {"layer": "3"}, "occlusion": {"patch": 4, "stride": 2},
           "integrated_gradients": {"steps": 8}}


# ---------------------------------------------------------------- oracles: captum
@pytest.mark.parametrize("method", ["gausslegendre", "riemann_middle"])
def test_integrated_gradients_matches_captum(method):
    from captum.attr import IntegratedGradients as CaptumIG

    net = _net()
    x, y = _batch()
    with IntegratedGradients(net, steps=20, baseline=0.1, method=method) as ig:
        maps = ig(x, y)
    ref, delta = CaptumIG(net).attribute(x, baselines=0.1, target=y, n_steps=20, method=method,
                                         return_convergence_delta=True)
    torch.testing.assert_close(ig.attributions, ref, atol=1e-7, rtol=1e-5)
    torch.testing.assert_close(maps, ref.sum(1), atol=1e-7, rtol=1e-5)
    torch.testing.assert_close(ig.delta, delta.float(), atol=1e-6, rtol=1e-3)


def test_integrated_gradients_completeness():
    # Linear model: the path gradient is constant, so IG is exact, w * (x - baseline), with any quadrature.
    torch.manual_seed(2)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 4)).eval()
    x, y = _batch()
    with IntegratedGradients(linear, steps=3, baseline=0.25) as ig:
        ig(x, y)
    w = linear[1].weight[y].view(-1, 3, 16, 16)
    torch.testing.assert_close(ig.attributions, w * (x - 0.25), atol=1e-6, rtol=1e-5)
    assert float(ig.delta.abs().max()) < 1e-4
    # Non-linear model: the completeness gap shrinks as the quadrature gets finer.
    net = _net()
    gaps = []
    for steps in (2, 8, 64):
        with IntegratedGradients(net, steps=steps) as ig:
            ig(x, y)
        gaps.append(float(ig.delta.abs().max()))
    assert gaps[2] < gaps[1] < gaps[0], gaps


def test_occlusion_matches_captum():
    from captum.attr import Occlusion as CaptumOcclusion

    net = _net()
    x, y = _batch()
    with Occlusion(net, patch=4, stride=3, baseline=0.2) as occ:
        maps = occ(x, y)
    ref = CaptumOcclusion(net).attribute(x, sliding_window_shapes=(3, 4, 4), strides=(3, 3, 3), baselines=0.2,
                                         target=y)
    torch.testing.assert_close(maps, ref[:, 0], atol=1e-6, rtol=1e-5)


def test_occlusion_hand_case():
    # score = sum of the pixels in rows 4..7, columns 8..11; non-overlapping 4x4 windows, baseline 0:
    # the drop of a window is the sum of the region pixels it hides, and every pixel of it gets that drop.
    class RegionSum(nn.Module):
        def forward(self, x):
            return x[:, :, 4:8, 8:12].sum((1, 2, 3))[:, None]

    x, _ = _batch(2)
    maps = Occlusion(RegionSum(), patch=4, stride=4)(x, 0)
    expected = torch.zeros(2, 16, 16)
    expected[:, 4:8, 8:12] = x[:, :, 4:8, 8:12].sum((1, 2, 3))[:, None, None]
    torch.testing.assert_close(maps, expected)


# --------------------------------------------------------- housekeeping, every explainer
@pytest.mark.parametrize("name", EXPLAINERS)
def test_every_explainer_shares_the_contract(name):
    net = _net().train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x, y = _batch()
    with build_explainer(name, net, **OPTIONS[name]) as explain:
        maps = explain(x, y)
        single = torch.cat([explain(x[i:i + 1], int(y[i])) for i in range(len(x))])
        with pytest.raises(ConfigError):
            explain(x[0], 0)  # not (B, C, H, W)
        with pytest.raises(ConfigError):
            explain(x, lambda out: out)  # (B, K) scores, not (B,)
    assert isinstance(explain, Explainer) and maps.shape == (6, 16, 16) and torch.isfinite(maps).all()
    # Eval mode during the call (an image's map does not depend on its batch), train mode restored after.
    torch.testing.assert_close(maps, single, atol=1e-5, rtol=1e-4)
    assert all(m.training for m in net.modules())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    if not explain.signed:
        assert float(maps.min()) >= 0 and float(maps.max()) <= 1
    assert not any(m._forward_hooks for m in net.modules())


def test_registry_rejects_bad_names_and_options():
    net = _net()
    with pytest.raises(ConfigError, match="unknown explainer"):
        explainer_factory("lime")
    with pytest.raises(ConfigError, match="no option"):
        build_explainer("occlusion", net, patchh=3)
    with pytest.raises(ConfigError, match="no layer named"):
        build_explainer("gradcam", net, layer="nope")
    with pytest.raises(ConfigError, match="no cam_layer"):
        build_explainer("gradcam", net)
    with pytest.raises(ConfigError, match="larger than"):
        Occlusion(net, patch=32)(torch.rand(1, 3, 16, 16), 0)


# ------------------------------------------------------------------- [0, 1] maps
def test_unit_maps_positive_and_abs():
    raw = torch.tensor([[[-4.0, 1.0], [2.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    pos = unit_maps(raw)
    torch.testing.assert_close(pos[0], torch.tensor([[0.0, 0.5], [1.0, 0.0]]))
    torch.testing.assert_close(pos[1], torch.zeros(2, 2))
    torch.testing.assert_close(unit_maps(raw, "abs")[0], torch.tensor([[1.0, 0.25], [0.5, 0.0]]))
    cam = pos.clone()
    torch.testing.assert_close(unit_maps(cam), cam)  # a [0, 1] map with maximum 1 is left alone
    with pytest.raises(ConfigError):
        unit_maps(raw, "negative")


def test_alignment_matches_quantus_pointing_game_and_relevance_mass():
    import quantus

    net = _net()
    x, y = _batch()
    with IntegratedGradients(net, steps=8) as ig:
        maps = unit_maps(ig(x, y))
    roi = torch.zeros(6, 16, 16, dtype=torch.bool)
    roi[:, 3:10, 4:9] = True
    peak = maps.flatten(1).argmax(1)
    for i in (0, 2, 4):  # put the maximum inside the ROI for half of the images
        r, c = divmod(int(peak[i]), 16)
        roi[i, max(0, r - 1):r + 2, max(0, c - 1):c + 2] = True
    ours = cam_alignment(maps, roi)
    kwargs = dict(model=net, x_batch=x.numpy(), y_batch=y.numpy(), a_batch=maps.numpy()[:, None],
                  s_batch=roi.numpy()[:, None].astype(float))
    pointing = quantus.PointingGame(normalise=False, abs=False, disable_warnings=True)(**kwargs)
    mass = quantus.RelevanceMassAccuracy(normalise=False, abs=False, disable_warnings=True)(**kwargs)
    np.testing.assert_array_equal(ours["pointing"].numpy(), np.asarray(pointing, dtype=float))
    assert 0 < float(ours["pointing"].sum()) < 6
    np.testing.assert_allclose(ours["energy"].numpy(), np.asarray(mass), atol=1e-6)


# ------------------------------------------------------------------ similarities
def test_similarities_match_scipy_and_scikit_image():
    from scipy.stats import spearmanr
    from skimage.metrics import structural_similarity

    gen = torch.Generator().manual_seed(0)
    a = torch.rand(4, 20, 23, generator=gen)
    b = (a + 0.3 * torch.rand(4, 20, 23, generator=gen)).clamp(0, 1)
    b[2] = torch.round(b[2] * 3) / 3  # many ties
    ref_rho = [spearmanr(a[i].flatten(), b[i].flatten())[0] for i in range(4)]
    np.testing.assert_allclose(rank_correlation(a, b), ref_rho, atol=1e-12)
    ref_ssim = [structural_similarity(a[i].double().numpy(), b[i].double().numpy(), gaussian_weights=True,
                                      sigma=1.5, use_sample_covariance=False, data_range=1.0) for i in range(4)]
    np.testing.assert_allclose(ssim(a, b), ref_ssim, atol=1e-10)
    np.testing.assert_allclose(ssim(a, a), np.ones(4), atol=1e-12)
    b[1] = 0.5
    assert np.isnan(rank_correlation(a, b)[1]) and np.isfinite(rank_correlation(a, b)[[0, 2, 3]]).all()


def test_average_ranks_match_scipy_with_ties():
    from scipy.stats import rankdata

    gen = np.random.default_rng(0)
    values = gen.integers(0, 5, size=(7, 40)).astype(float)  # many ties
    values[3] = 1.0  # one constant row
    np.testing.assert_array_equal(average_ranks(values), rankdata(values, axis=1))


# ------------------------------------------------------------------ randomisation
@pytest.mark.parametrize("name", ["integrated_gradients", "occlusion"])
def test_randomisation_matches_quantus_mprt(name):
    import quantus

    net = _net()
    x, y = _batch()
    factory = explainer_factory(name, **OPTIONS[name])
    ours = randomisation_check(net, x, y, {name: factory}, seed=7)

    def explain_func(model, inputs, targets, **kwargs):
        with factory(model) as explain:
            return explain(torch.as_tensor(inputs), torch.as_tensor(targets)).detach().numpy()[:, None]

    mprt = quantus.MPRT(seed=7, normalise=False, abs=False, disable_warnings=True)
    theirs = mprt(model=net, x_batch=x.numpy(), y_batch=y.numpy(), a_batch=None, explain_func=explain_func,
                  batch_size=len(x))
    layers = [k for k in theirs if k != "original"]
    assert layers == ours.layers == ["7", "4", "3", "0"]
    np.testing.assert_allclose(ours.spearman[name], np.array([theirs[k] for k in layers]), atol=1e-9)


def test_randomisation_leaves_model_and_rng_alone_and_can_fail():
    class InputIntensity(Explainer):
        """A 'explainer' that ignores the model: the sanity check must flag it (correlation 1 throughout)."""

        def explain(self, x, target):
            return x.mean(1)

    net = _net()
    x, y = _batch()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    torch.manual_seed(123)
    rng = torch.get_rng_state()
    factories = {"input": InputIntensity, "integrated_gradients": explainer_factory("integrated_gradients", steps=8)}
    result = randomisation_check(net, x, y, factories, seed=3)
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    np.testing.assert_allclose(result.spearman["input"], 1.0)
    np.testing.assert_allclose(result.ssim["input"], 1.0)
    # IG depends on the weights: fully randomised, its maps no longer rank pixels like the trained ones.
    assert np.nanmean(result.spearman["integrated_gradients"][-1]) < 0.5
    again = randomisation_check(net, x, y, factories, seed=3)
    np.testing.assert_array_equal(again.spearman["integrated_gradients"], result.spearman["integrated_gradients"])
    other = randomisation_check(net, x, y, factories, seed=4)
    assert not np.array_equal(other.spearman["integrated_gradients"], result.spearman["integrated_gradients"])
    summary = result.summary()["integrated_gradients"]
    assert summary["layers"] == randomisable_layers(net) and len(summary["ssim"]) == 4


def test_cascading_randomisation_is_cumulative_from_the_top():
    net = _net()
    seen = []
    for name, copy in cascading_randomisation(net, seed=0, max_layers=2):
        changed = [k.split(".")[0] for k, v in copy.state_dict().items()
                   if v.dtype.is_floating_point and not torch.equal(v, net.state_dict()[k])]
        seen.append((name, sorted(set(changed))))
    assert seen == [("7", ["7"]), ("4", ["4", "7"])]


# ------------------------------------------------------------------- faithfulness
def test_deletion_curve_matches_quantus_pixel_flipping():
    import quantus

    net = _net(in_channels=1)
    x, y = _batch(channels=1)
    maps = torch.rand(6, 16, 16, generator=torch.Generator().manual_seed(5))  # no ties
    ours = deletion_insertion(net, x, maps, ClassProbabilityTarget(y), steps=16, baseline=0.0)
    flip = quantus.PixelFlipping(features_in_step=16, perturb_baseline=0.0, normalise=False, abs=False,
                                 disable_warnings=True)
    theirs = np.array(flip(model=net, x_batch=x.numpy(), y_batch=y.numpy(), a_batch=maps.numpy()[:, None],
                           softmax=True))
    np.testing.assert_allclose(ours.deletion[:, 1:], theirs, atol=1e-6)


def test_deletion_insertion_hand_case_and_ordering():
    class Total(nn.Module):  # score = sum of pixels times fixed positive weights
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0)) + 0.1)

        def forward(self, x):
            return (x * self.w).sum((1, 2, 3))[:, None]

    model = Total()
    ones = torch.ones(3, 1, 8, 8)
    flat = torch.zeros(3, 8, 8)  # a constant map: the order is the (seeded) random tie-break
    res = deletion_insertion(model, ones, flat, 0, steps=4)
    total = float(model.w.sum())
    np.testing.assert_allclose(res.deletion[:, 0], total, rtol=1e-6)
    np.testing.assert_allclose(res.deletion[:, -1], 0.0, atol=1e-6)
    np.testing.assert_allclose(res.insertion[:, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(res.deletion + res.insertion, total, rtol=1e-5)
    assert not np.allclose(res.deletion[0], res.deletion[1])  # ties are not broken the same way per image
    # The exact contributions w * x are the best order: deletion falls faster, insertion rises faster than random.
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    best = deletion_insertion(model, x, (model.w * x).detach()[:, 0], 0, steps=8, seed=2).aucs()
    assert (best["deletion"] < best["deletion_random"]).all()
    assert (best["insertion"] > best["insertion_random"]).all()
    with pytest.raises(ConfigError):
        deletion_insertion(model, x, flat, 0)  # 3 maps for 5 images
