"""Worst-case attacks against torchattacks 3.5.1 as oracle: ours must never be weaker.

On the same small trained models, images, ε and budget, our robust accuracy
may exceed torchattacks' by at most 1 point (one attack can be luckier on a
few images, never systematically weaker).  torchattacks' defaults differ from
AutoAttack's (APGD and FAB 10 steps, ``seed=None`` meaning time-seeded), so
every budget and seed is set explicitly.
"""

from __future__ import annotations

import pytest
import torch
import torchattacks
from torch import nn

from benchmarks.bench_autoattack import torchattacks_autoattack
from conftest import digits_8x8, fit_on_digits

from core.attacks import APGD, APGDT, FABT, AutoAttack, Square

TOLERANCE = 0.01  # one point of accuracy


class ConvNet(nn.Module):
    """Conv + BatchNorm, normalisation inside (the project's convention)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
            nn.Flatten(), nn.Linear(64, 10))

    def forward(self, x):
        return self.body((x - 0.5) / 0.5)


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 10))


@pytest.fixture(scope="module")
def trained():
    """Both models trained on the first 1200 digits, and 200 held-out test digits."""
    x, y = digits_8x8()
    models = {}
    for kind, net in (("conv", ConvNet), ("mlp", _mlp)):
        torch.manual_seed(1)
        models[kind] = fit_on_digits(net(), x, y, epochs=8, lr=1e-2)
    return models, x[1200:1400], y[1200:1400]


def _accuracy(model, images, labels) -> float:
    with torch.no_grad():
        return float((model(images).argmax(1) == labels).float().mean())


S = 30  # gradient steps on both sides (AutoAttack uses 100; the comparison only needs equal budgets)

# (name, ours(model, eps), theirs(model, eps), eps values, models): budgets and seeds set on both sides.
CASES = [
    ("apgd-ce-linf", lambda m, e: APGD(m, e, steps=S), lambda m, e: torchattacks.APGD(m, eps=e, steps=S, seed=0),
     (0.05, 0.1), ("conv", "mlp")),
    ("apgd-dlr-linf", lambda m, e: APGD(m, e, loss="dlr", steps=S),
     lambda m, e: torchattacks.APGD(m, eps=e, steps=S, seed=0, loss="dlr"), (0.1,), ("conv", "mlp")),
    ("apgd-ce-l2", lambda m, e: APGD(m, e, norm="2", steps=S),
     lambda m, e: torchattacks.APGD(m, norm="L2", eps=e, steps=S, seed=0), (0.6,), ("conv", "mlp")),
    ("apgd-t-linf", lambda m, e: APGDT(m, e, steps=S),
     lambda m, e: torchattacks.APGDT(m, eps=e, steps=S, seed=0, n_classes=10), (0.1,), ("conv", "mlp")),
    ("apgd-t-l2", lambda m, e: APGDT(m, e, norm="2", steps=S),
     lambda m, e: torchattacks.APGDT(m, norm="L2", eps=e, steps=S, seed=0, n_classes=10), (0.6,), ("mlp",)),
    ("fab-t-linf", lambda m, e: FABT(m, e, steps=S),
     lambda m, e: torchattacks.FAB(m, eps=e, steps=S, seed=0, multi_targeted=True, n_classes=10), (0.1,),
     ("conv", "mlp")),
    ("square-linf", lambda m, e: Square(m, e, n_queries=500),
     lambda m, e: torchattacks.Square(m, eps=e, n_queries=500, seed=0), (0.1,), ("conv", "mlp")),
    ("autoattack-standard", lambda m, e: AutoAttack(m, e, steps=S, n_queries=500),
     lambda m, e: torchattacks_autoattack(m, e, S, 500), (0.1,), ("conv",)),
]
RUNS = [(name, ours, theirs, eps, kind) for name, ours, theirs, eps, kinds in CASES for kind in kinds]


@pytest.mark.parametrize("name,ours,theirs,eps_values,kind", RUNS, ids=[f"{r[0]}-{r[4]}" for r in RUNS])
def test_robust_accuracy_never_above_torchattacks(name, ours, theirs, eps_values, kind, trained):
    models, x, y = trained
    model = models[kind]
    clean = _accuracy(model, x, y)
    assert clean > 0.85
    for eps in eps_values:
        acc_ours = _accuracy(model, ours(model, eps)(x, y, generator=torch.Generator().manual_seed(0)), y)
        acc_theirs = _accuracy(model, theirs(model, eps)(x, y), y)
        print(f"oracle {name} {kind} eps={eps}: ours {acc_ours:.3f} torchattacks {acc_theirs:.3f} clean {clean:.3f}")
        assert acc_theirs < clean  # the oracle itself attacks, so the comparison means something
        assert acc_ours <= acc_theirs + TOLERANCE, (name, kind, eps, acc_ours, acc_theirs)
