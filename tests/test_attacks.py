"""Attacks: invariants over every attack configuration, plus torchattacks as oracle."""

from __future__ import annotations

import pytest
import torch
import torchattacks
from torch import nn

from conftest import digits_8x8, fit_on_digits

from core.attacks import (APGD, APGDT, ATTACKS, FABT, FGSM, PGD, Attack, AutoAttack, ProbabilityOutputWarning,
                          Square, make_attack, parse_eps_list)
from core.errors import ConfigError


class SmallNet(nn.Module):
    """Conv + BatchNorm + dropout: a model whose train/eval modes really differ."""

    def __init__(self, channels: int = 1, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 12, 3, padding=1), nn.BatchNorm2d(12), nn.ReLU(),
            nn.Conv2d(12, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(64, classes))

    def forward(self, x):
        return self.head(self.features((x - 0.5) / 0.5))


@pytest.fixture(scope="module")
def digits():
    """sklearn digits as (N, 1, 8, 8) pixels in [0, 1] and a SmallNet trained on 1200 of them."""
    torch.manual_seed(0)
    x, y = digits_8x8()
    model = fit_on_digits(SmallNet(), x, y, epochs=6, lr=1e-2)
    return model, x[1200:1456], y[1200:1456]


# Every configuration the invariants must hold for; a new attack joins the list here.
# L2 configurations take 8x the L-inf radius (an 8x8 image: sqrt(64) = 8).
CONFIGS = {
    "fgsm": lambda m, eps: FGSM(m, eps),
    "pgd_inf": lambda m, eps: PGD(m, eps, steps=5),
    "pgd_inf_fixed_start": lambda m, eps: PGD(m, eps, steps=5, random_start=False, alpha=eps / 2),
    "pgd_l2": lambda m, eps: PGD(m, eps * 8, norm="2", steps=5),
    "pgd_restarts": lambda m, eps: PGD(m, eps, steps=3, restarts=3),
    "pgd_targeted": lambda m, eps: PGD(m, eps, steps=5, targeted=True),
    "apgd-ce_inf": lambda m, eps: APGD(m, eps, steps=10, restarts=2),
    "apgd-ce_l2": lambda m, eps: APGD(m, eps * 8, norm="2", steps=10),
    "apgd-ce_targeted": lambda m, eps: APGD(m, eps, steps=10, targeted=True),
    "apgd-dlr_inf": lambda m, eps: APGD(m, eps, loss="dlr", steps=10),
    "apgd-t_inf": lambda m, eps: APGDT(m, eps, steps=10, n_targets=3),
    "apgd-t_l2": lambda m, eps: APGDT(m, eps * 8, norm="2", steps=10, n_targets=2),
    "fab-t_inf": lambda m, eps: FABT(m, eps, steps=10, n_targets=3, restarts=2),
    "fab-t_l2": lambda m, eps: FABT(m, eps * 8, norm="2", steps=10, n_targets=2),
    "square_inf": lambda m, eps: Square(m, eps, n_queries=150),
    "square_targeted": lambda m, eps: Square(m, eps, n_queries=150, targeted=True),
    "autoattack_fast": lambda m, eps: AutoAttack(m, eps, version="fast", steps=10, n_queries=150),
    "autoattack_standard": lambda m, eps: AutoAttack(m, eps, steps=5, n_queries=100),
    "autoattack_l2": lambda m, eps: AutoAttack(m, eps * 8, version="fast", norm="2", steps=10),
}
UNTARGETED = sorted(n for n in CONFIGS if "targeted" not in n)


def _labels(name: str, y: torch.Tensor) -> torch.Tensor:
    """True classes, or for targeted configurations a target other than the true class."""
    return (y + 1) % 10 if "targeted" in name else y


def test_every_registered_attack_is_covered():
    covered = {name.split("_")[0] for name in CONFIGS}
    assert set(ATTACKS) <= covered


def _norm(delta: torch.Tensor, p: str) -> torch.Tensor:
    flat = delta.flatten(1)
    return flat.abs().amax(1) if p == "inf" else flat.norm(dim=1)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_perturbation_within_ball_and_pixel_range(name, digits):
    model, x, y = digits
    atk = CONFIGS[name](model, 0.1)
    adv = atk(x, _labels(name, y))
    assert adv.shape == x.shape
    assert adv.min() >= 0 and adv.max() <= 1
    assert (_norm(adv - x, atk.norm) <= atk.eps + 1e-5).all()
    assert (adv != x).any()


@pytest.mark.parametrize("name", UNTARGETED)
def test_adversarial_accuracy_not_above_clean(name, digits):
    model, x, y = digits
    clean = (model(x).argmax(1) == y).float().mean()
    adv_acc = (model(CONFIGS[name](model, 0.1)(x, y)).argmax(1) == y).float().mean()
    assert clean > 0.8
    assert adv_acc <= clean
    assert adv_acc < clean - 0.1  # ε = 0.1 on 8x8 digits must hurt a plain CNN


def test_targeted_attack_reaches_targets(digits):
    model, x, y = digits
    target = (y + 1) % 10
    before = (model(x).argmax(1) == target).float().mean()
    after = (model(PGD(model, 0.2, steps=10, targeted=True)(x, target)).argmax(1) == target).float().mean()
    assert after > before + 0.3


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_train_mode_and_parameters_restored(name, digits):
    model, x, y = digits
    model.train()
    model.features[1].eval()  # mixed modes must come back exactly as they were
    flags = {n: m.training for n, m in model.named_modules()}
    model.head[2].weight.requires_grad_(False)
    try:
        CONFIGS[name](model, 0.05)(x[:8], y[:8])
        assert {n: m.training for n, m in model.named_modules()} == flags
        assert [p.requires_grad for p in model.parameters()].count(False) == 1
        assert all(p.grad is None for p in model.parameters())
    finally:
        model.head[2].weight.requires_grad_(True)
        model.eval()


def test_attack_runs_in_eval_mode_and_restores_on_error():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 3)

        def forward(self, x):
            seen.append(self.training)
            if len(seen) > 1:
                raise RuntimeError("boom")
            return self.lin(x.flatten(1))

    model = Probe().train()
    with pytest.raises(RuntimeError, match="boom"):
        PGD(model, 0.1, steps=3)(torch.rand(2, 1, 2, 2), torch.tensor([0, 1]))
    assert seen == [False, False]
    assert model.training and model.lin.weight.requires_grad


@pytest.mark.parametrize("mode", ["inside", "outside"])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_roi_mask_is_respected_exactly(name, mode, digits):
    model, x, y = digits
    x, y = x[:16], y[:16]
    roi = torch.zeros(8, 8, dtype=torch.bool)
    roi[2:6, 1:5] = True
    atk = CONFIGS[name](model, 0.2)
    atk.roi_mode = mode
    delta = atk(x, _labels(name, y), roi=roi) - x
    forbidden = ~roi if mode == "inside" else roi
    assert (delta[:, :, forbidden] == 0).all()
    assert (delta[:, :, ~forbidden] != 0).any()


def test_per_image_roi_masks(digits):
    model, x, y = digits
    roi = torch.zeros(4, 1, 8, 8)
    for i in range(4):
        roi[i, 0, i:i + 3, i:i + 3] = 1
    delta = PGD(model, 0.2, steps=3)(x[:4], y[:4], roi=roi) - x[:4]
    assert (delta[roi.expand_as(delta) == 0] == 0).all()


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_batched_eps_equals_loop(name, digits):
    model, x, y = digits
    x, y = x[:32], y[:32]
    eps_list = [0.0, 0.02, 0.05, 0.1]
    atk = CONFIGS[name](model, 0.1)
    scale = 8.0 if atk.norm == "2" else 1.0
    eps_list = [e * scale for e in eps_list]
    batched = atk(x, _labels(name, y), eps=eps_list, generator=torch.Generator().manual_seed(3))
    assert batched.shape == (4, *x.shape)
    for i, e in enumerate(eps_list):
        single = atk(x, _labels(name, y), eps=e, generator=torch.Generator().manual_seed(3))
        # Batch size changes BLAS summation order; a few sign flips of near-zero gradients are possible.
        assert (batched[i] - single).abs().gt(1e-5).float().mean() < 0.01
    assert torch.equal(batched[0], x)


@pytest.mark.parametrize("eps", [2 / 255, 8 / 255, 0.1])
def test_fgsm_matches_torchattacks(eps, digits):
    model, x, y = digits
    ours = FGSM(model, eps)(x, y)
    theirs = torchattacks.FGSM(model, eps=eps)(x, y)
    assert torch.allclose(ours, theirs, atol=1e-6)


@pytest.mark.parametrize("eps,alpha,steps", [(8 / 255, 2 / 255, 10), (0.1, 0.01, 20)])
def test_pgd_without_random_start_matches_torchattacks(eps, alpha, steps, digits):
    model, x, y = digits
    ours = PGD(model, eps, alpha=alpha, steps=steps, random_start=False)(x, y)
    theirs = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=False)(x, y)
    # Same update rule; torchattacks averages the loss over the batch, which can flip the
    # sign of a gradient that underflows, so allow a handful of differing pixels.
    differ = (ours - theirs).abs().gt(1e-5).float().mean()
    assert differ < 1e-3


def test_validation_errors(digits):
    model, x, y = digits
    with pytest.raises(ConfigError, match="0, 1"):
        FGSM(model, 0.1)(x * 255, y)
    with pytest.raises(ConfigError, match="eps"):
        FGSM(model, -0.1)
    with pytest.raises(ConfigError, match="labels"):
        FGSM(model, 0.1)(x, y[:3])
    with pytest.raises(ConfigError, match="ROI"):
        FGSM(model, 0.1)(x, y, roi=torch.ones(5, 5))
    with pytest.raises(ConfigError, match="norm"):
        PGD(model, 0.1, norm="3")
    with pytest.raises(ConfigError, match="L-inf"):
        make_attack("fgsm", model, 0.1, norm="2")
    with pytest.raises(ConfigError, match="unknown attack"):
        make_attack("cw", model, 0.1)
    assert isinstance(make_attack("pgd", model, [0.1, 0.2], norm="2"), Attack)


def test_parse_eps_list():
    assert parse_eps_list("0, 2/255,8/255,0.1") == pytest.approx([0, 2 / 255, 8 / 255, 0.1])
    for bad in ("", "a", "1/0", "-0.1", "2"):
        with pytest.raises(ConfigError):
            parse_eps_list(bad)


def test_batchnorm_folding_keeps_the_function(digits):
    from core.attacks import fold_batchnorm

    model, x, _ = digits
    folded = fold_batchnorm(model)
    assert folded is not model
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert torch.allclose(folded(x), model(x), atol=1e-4)
    model.train()
    assert fold_batchnorm(model) is model  # train-mode BatchNorm is batch-dependent: never folded
    model.eval()
    plain = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    assert fold_batchnorm(plain) is plain


def test_unfused_attack_equals_fused_up_to_rounding(digits):
    model, x, y = digits
    fused = PGD(model, 0.1, steps=5, random_start=False)(x, y)
    plain = PGD(model, 0.1, steps=5, random_start=False, fuse_bn=False)(x, y)
    assert (fused - plain).abs().gt(1e-5).float().mean() < 1e-3


@pytest.mark.parametrize("name", ["fgsm", "pgd_inf_fixed_start", "pgd_restarts"])
def test_max_batch_does_not_change_results(name, digits):
    model, x, y = digits
    x, y = x[:40], y[:40]
    whole = CONFIGS[name](model, 0.1)
    whole.max_batch = 10_000
    chunked = CONFIGS[name](model, 0.1)
    chunked.max_batch = 7
    a = whole(x, y, eps=[0.05, 0.1], generator=torch.Generator().manual_seed(0))
    b = chunked(x, y, eps=[0.05, 0.1], generator=torch.Generator().manual_seed(0))
    assert (a - b).abs().gt(1e-5).float().mean() < 0.01


# ---------------------------------------------------------------- bad input: one clear ConfigError each


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_labels_beyond_the_models_classes_are_a_config_error(name, digits):
    model, x, y = digits
    bad = y[:4].clone()
    bad[2] = 12
    with pytest.raises(ConfigError, match=r"classes of the model \(0\.\.9, it has 10 classes\); got 12"):
        CONFIGS[name](model, 0.1)(x[:4], bad)


@pytest.mark.parametrize("name", ["fgsm", "apgd-ce_inf", "square_inf", "autoattack_fast"])
def test_eps_out_of_range_is_a_config_error(name, digits):
    model, x, y = digits
    with pytest.raises(ConfigError, match="out of range"):
        CONFIGS[name](model, 2.0)(x[:4], y[:4])
    with pytest.raises(ConfigError, match="out of range"):
        APGD(model, 8.5, norm="2")(x[:4], y[:4])  # an 8x8 image's L2 diameter is 8


def _few_class_model(classes: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, classes)).eval()


def test_dlr_attacks_refuse_models_with_too_few_classes(digits):
    _, x, _ = digits
    two, three = _few_class_model(2), _few_class_model(3)
    y = torch.zeros(4, dtype=torch.long)
    with pytest.raises(ConfigError, match="targeted DLR loss, which needs at least 4 classes.*has 2"):
        APGDT(two, 0.1, steps=2)(x[:4], y)
    with pytest.raises(ConfigError, match="needs at least 4 classes.*has 3"):
        make_attack("apgd-t", three, 0.1, steps=2)(x[:4], y)
    with pytest.raises(ConfigError, match="untargeted DLR loss, which needs at least 3 classes.*has 2"):
        APGD(two, 0.1, loss="dlr", steps=2)(x[:4], y)
    APGD(three, 0.1, loss="dlr", steps=2)(x[:4], y)  # 3 classes are enough for the untargeted form
    # The ensemble adapts instead of failing, and says what it left out.
    result = AutoAttack(three, 0.1, version="fast", steps=2, n_queries=5).evaluate(x[:4], y)
    assert result.attacks == ("apgd-ce", "apgd-dlr", "square") and "apgd-dlr instead" in result.skipped["apgd-t"]
    result = AutoAttack(two, 0.1, version="fast", steps=2, n_queries=5).evaluate(x[:4], y)
    assert result.attacks == ("apgd-ce", "square") and "has 2" in result.skipped["apgd-t"]


def test_probability_outputs_warn(digits):
    model, x, y = digits
    probabilities = nn.Sequential(model, nn.Softmax(dim=1)).eval()
    with pytest.warns(ProbabilityOutputWarning, match="look like probabilities"):
        APGD(probabilities, 0.05, steps=2)(x[:8], y[:8])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ProbabilityOutputWarning)
        APGD(model, 0.05, steps=2)(x[:8], y[:8])  # logits: no warning


def test_untargeted_by_design_attacks_refuse_targeted(digits):
    model, _, _ = digits
    for name in ("apgd-t", "fab-t", "autoattack"):
        with pytest.raises(ConfigError, match="untargeted"):
            make_attack(name, model, 0.1, targeted=True)
    with pytest.raises(ConfigError, match="APGDT"):
        APGD(model, 0.1, loss="dlr", targeted=True)
    with pytest.raises(ConfigError, match="L-inf"):
        make_attack("square", model, 0.1, norm="2")


def test_ensemble_attributes_every_broken_image(digits):
    model, x, y = digits
    result = AutoAttack(model, version="fast", steps=10, n_queries=100).evaluate(
        x[:64], y[:64], eps=[0.0, 0.05, 0.1], generator=torch.Generator().manual_seed(0))
    clean_wrong = model(x[:64]).argmax(1) != y[:64]
    assert result.broken_by.shape == (3, 64)
    assert torch.equal(result.broken_by[0] == 0, clean_wrong) and (result.broken_by[0] <= 0).all()
    for e, row in enumerate(result.broken_by):
        pred = model(result.adversarial[e]).argmax(1)
        assert torch.equal(pred != y[:64], row >= 0)  # broken exactly where the returned image is wrong
        counts = result.counts()[e]
        assert sum(counts.values()) == 64 and counts["robust"] == int((row < 0).sum())
    acc = result.accuracy()
    assert acc[0] >= acc[1] >= acc[2]
