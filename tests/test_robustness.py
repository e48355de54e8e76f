"""Robustness curves, corruption tables, confidence intervals and explanation drift."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from conftest import digits_8x8, fit_on_digits

from core.attacks import FGSM, PGD
from core.errors import ConfigError
from core.robustness import (accuracy, aggregate_curves, attack_curve, corruption_accuracy, explanation_drift,
                             t_interval, transform_curve)


class CamNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
        self.cam_layer = self.conv2

    def forward(self, x):
        return self.head(self.conv2(self.conv1(x)))


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    x, y = digits_8x8()
    model = fit_on_digits(CamNet(), x, y, epochs=8, lr=2e-2)
    return model, x[1200:1400], y[1200:1400]


def test_fgsm_curve_matches_single_attacks(trained):
    model, x, y = trained
    eps = [0.0, 0.05, 0.1]
    curve = attack_curve(model, x, y, eps, attack="fgsm", batch_size=64, seeds=(0, 1, 2))
    assert curve.per_seed.shape == (1, 3)  # deterministic: extra seeds are not run
    assert curve.per_seed[0, 0] == pytest.approx(accuracy(model, x, y))
    for i, e in enumerate(eps[1:], start=1):
        assert curve.per_seed[0, i] == pytest.approx(accuracy(model, FGSM(model, e)(x, y), y), abs=1 / len(y))
    assert curve.per_seed[0, 2] < curve.per_seed[0, 0]


def test_pgd_curve_seeds_give_an_interval(trained):
    model, x, y = trained
    events = []
    curve = attack_curve(model, x[:64], y[:64], [0.03, 0.1], attack="pgd", steps=3, seeds=(0, 1, 2),
                         batch_size=32, progress=events.append)
    assert curve.per_seed.shape == (3, 2)
    assert len(events) == 3 * 2 and events[-1].step == events[-1].total
    summary = curve.summary()
    assert all(s.n == 3 for s in summary)
    d = curve.to_dict()
    assert d["ci_over"] == "PGD random starts" and len(d["ci95"]) == 2
    # seed 0 of the curve is exactly a PGD run per batch, each seeded from (seed, batch index)
    from core.robustness.sharding import batch_generator

    robust = 0
    for k, rows in enumerate((slice(0, 32), slice(32, 64))):
        adv = PGD(model, [0.03, 0.1], steps=3)(x[rows], y[rows], generator=batch_generator(0, k))
        robust += int(((model(adv[1]).argmax(1) == y[rows]) & (model(x[rows]).argmax(1) == y[rows])).sum())
    assert curve.per_seed[0, 1] == pytest.approx(robust / 64)


def test_t_interval_matches_scipy():
    from scipy import stats

    values = [0.91, 0.88, 0.93, 0.90]
    ci = t_interval(values)
    low, high = stats.t.interval(0.95, 3, loc=np.mean(values), scale=stats.sem(values))
    assert ci.low == pytest.approx(low) and ci.high == pytest.approx(high)
    assert np.isnan(t_interval([0.5]).half_width)
    assert ci.format() == f"{np.mean(values) * 100:.1f} ± {(high - low) / 2 * 100:.1f}"


def test_aggregate_curves_is_one_row_per_model(trained):
    model, x, y = trained
    c1 = transform_curve(model, x, y, [0.0, 1.0], lambda im, v: (im + v * 0.3).clamp(0, 1), "brightness")
    c2 = transform_curve(model, x, y, [0.0, 1.0], lambda im, v: (im - v * 0.3).clamp(0, 1), "brightness")
    agg = aggregate_curves([c1, c2], seeds=[0, 1], ci_over="training seeds")
    assert agg.per_seed.shape == (2, 2)
    assert agg.per_seed[:, 0] == pytest.approx([accuracy(model, x, y)] * 2)
    with pytest.raises(ConfigError):
        aggregate_curves([c1, transform_curve(model, x, y, [0.5], lambda im, v: im, "b")], [0, 1], "x")


def test_corruption_table_keeps_every_severity(trained):
    model, x, y = trained
    calls = []

    def corrupt(images, name, severity, seed):
        calls.append((name, severity, seed))
        if name == "identity":
            return images
        g = torch.Generator().manual_seed(seed)
        return (images + 0.15 * severity * torch.randn(images.shape, generator=g)).clamp(0, 1)

    res = corruption_accuracy(model, x, y, corruptions=["identity", "noise"], severities=(1, 3, 5), seed=7,
                              corrupt=corrupt)
    assert sorted(calls) == sorted((n, s, 7) for n in ("identity", "noise") for s in (1, 3, 5))
    clean = accuracy(model, x, y)
    assert res.table["identity"] == pytest.approx({1: clean, 3: clean, 5: clean})
    assert res.table["noise"][5] < res.table["noise"][1]
    cells = [v for row in res.table.values() for v in row.values()]
    assert res.mean == pytest.approx(np.mean(cells))
    d = res.to_dict()
    assert set(d["table"]["noise"]) == {"1", "3", "5"} and d["per_severity"]["5"] == pytest.approx(
        (clean + res.table["noise"][5]) / 2)


def test_explanation_drift(trained):
    model, x, y = trained
    x, y = x[:16], y[:16]
    model.train()
    same = explanation_drift(model, x, x)
    assert model.training
    model.eval()
    assert np.allclose(same.spearman, 1.0)
    assert same.dice_distance == pytest.approx(same.self_distance)
    adv = PGD(model, 0.2, steps=5)(x, y)
    moved = explanation_drift(model, x, adv)
    assert moved.dice_distance.mean() > same.dice_distance.mean()
    assert np.nanmean(moved.spearman) < 0.99
    assert (moved.target == model(x).argmax(1).numpy()).all()
