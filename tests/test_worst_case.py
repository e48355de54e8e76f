"""Worst-case evaluation: masking checks catch a masked model, minimal perturbations bound CLEVER, per-image worst."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from conftest import digits_8x8, fit_on_digits

from core.robustness import (clever_batch, clever_vs_minimal, evaluate_worst_case, minimal_perturbation,
                             my_batches, zero_gradient_fraction)
from core.training.distributed import DistContext


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 12, 3, padding=1), nn.BatchNorm2d(12), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(192, 10))

    def forward(self, x):
        return self.body((x - 0.5) / 0.5)


class Quantised(nn.Module):
    """Shattered gradients: the input is rounded to 9 grey levels, so every input gradient is exactly 0."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(torch.round(x * 8) / 8)


@pytest.fixture(scope="module")
def data():
    x, y = digits_8x8()
    torch.manual_seed(0)
    model = fit_on_digits(Net(), x, y, epochs=6, lr=1e-2)
    torch.manual_seed(3)
    surrogate = fit_on_digits(nn.Sequential(nn.Flatten(), nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 10)), x, y,
                              epochs=6, lr=1e-2)
    return model, surrogate, x[1200:1296], y[1200:1296]


def _evaluate(model, surrogate, x, y, **kw):
    return evaluate_worst_case(model, x, y, [0.0, 0.03, 0.1], version="fast", steps=10, n_queries=300,
                               surrogate=surrogate, surrogate_name="mlp", batch_size=48, **kw)


def test_plain_model_passes_every_masking_check(data):
    model, surrogate, x, y = data
    ev = _evaluate(model, surrogate, x, y)
    assert [c.name for c in ev.checks] == ["large_eps", "budget_ladder", "black_box", "transfer", "zero_gradient"]
    assert all(c.passed for c in ev.checks), [c.to_dict() for c in ev.checks if not c.passed]
    assert not ev.suspicious and ev.zero_gradient == 0.0
    report = ev.to_dict()
    assert report["suspicious"] is False and "label" in report["weak"]["pgd-10"]
    # The headline is the per-image worst case: never above any attack that was run.
    worst = ev.worst()
    for outcome in (ev.ensemble, *ev.weak.values(), ev.transfer):
        assert (worst.robust <= outcome.robust).all()
    assert worst.accuracy()[0, 0] == pytest.approx(ev.clean_accuracy)


def test_shattered_gradients_make_the_model_suspicious(data):
    model, surrogate, x, y = data
    masked = Quantised(model).eval()
    assert zero_gradient_fraction(masked, x, y) == 1.0
    ev = _evaluate(masked, surrogate, x, y)
    checks = {c.name: c for c in ev.checks}
    assert ev.suspicious
    assert checks["zero_gradient"].passed is False and checks["zero_gradient"].numbers["fraction"] == 1.0
    # Square needs no gradient: it breaks images the white-box attacks could not move.
    assert checks["black_box"].passed is False and sum(checks["black_box"].numbers["images_only_square_broke"]) > 0
    assert "SUSPICIOUS" in ev.summary_lines()[-1]


def test_skipped_checks_say_why(data):
    model, _, x, y = data
    ev = evaluate_worst_case(model, x[:32], y[:32], [0.0, 0.05], version="fast", steps=5, n_queries=50,
                             norm="2", batch_size=32)
    checks = {c.name: c for c in ev.checks}
    assert checks["transfer"].passed is None and "surrogate" in checks["transfer"].detail
    assert checks["black_box"].passed is None and "L-inf only" in checks["black_box"].detail
    assert checks["large_eps"].passed is None  # the 64/255 check is an L-inf radius
    assert not ev.suspicious and "fgsm" not in ev.weak


def _linear(classes: int = 10) -> nn.Module:
    torch.manual_seed(1)
    x, y = digits_8x8()
    return fit_on_digits(nn.Sequential(nn.Flatten(), nn.Linear(64, classes)), x, y, epochs=4, lr=1e-2)


def test_minimal_perturbation_never_beats_the_exact_bound_of_a_linear_model():
    """For f = Wx + b the smallest L2 change of the decision is min_j g_j / ||w_c - w_j|| (more inside the box):
    no adversarial example can be closer, and CLEVER is exact there."""
    model = _linear()
    x, _ = digits_8x8()
    images = x[1300:1316]
    w = model[1].weight.detach().double()
    with torch.no_grad():
        logits = model(images).double()
    c = logits.argmax(1)
    exact = []
    for i in range(images.shape[0]):
        margins = logits[i, c[i]] - logits[i]
        norms = (w[c[i]] - w).norm(dim=1)
        exact.append(min(float(margins[j] / norms[j]) for j in range(10) if j != int(c[i])))
    exact = np.array(exact)
    found = minimal_perturbation(model, images, norm="2", upper=4.0, iterations=10, steps=30)
    assert found.found.all()
    assert (found.eps >= exact * (1 - 1e-4)).all()  # an upper bound on the true minimum, never below it
    assert np.median(found.eps / exact) < 1.25  # and a tight one for most images
    scores = [r.score for r in clever_batch(model, images, norm=2, nb_batch=5, batch_size=20, radius=4.0)]
    np.testing.assert_allclose(scores, np.minimum(exact, 4.0), rtol=1e-4)
    summary = clever_vs_minimal(scores, found)
    assert summary["overestimates"] == int((np.array(scores) > found.eps).sum())
    assert summary["overestimates"] <= 1  # CLEVER is exact here: above the found minimum only by rounding


def test_clever_vs_minimal_counts_overestimates():
    from core.robustness import MinimalPerturbation

    minimal = MinimalPerturbation("2", 2.0, np.array([0.5, math.inf, 0.2]), 3, "test")
    summary = clever_vs_minimal([0.6, 1.9, 0.1], minimal)
    assert summary["overestimates"] == 1 and summary["n_found"] == 2
    assert summary["pairs"][1] == {"clever": 1.9, "minimal": None}
    with pytest.raises(Exception, match="one CLEVER score per image"):
        clever_vs_minimal([0.1], minimal)


def test_batches_are_shared_round_robin_between_ranks():
    ranks = [my_batches(45, 10, DistContext(True, r, 2, r)) for r in range(2)]
    assert [k for k, _ in ranks[0]] == [0, 2, 4] and [k for k, _ in ranks[1]] == [1, 3]
    covered = sorted(i for part in ranks for _, rows in part for i in range(rows.start, rows.stop))
    assert covered == list(range(45))
