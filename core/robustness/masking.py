"""Gradient-masking checks (Carlini et al. 2019, "On Evaluating Adversarial Robustness").

A white-box evaluation can only be trusted when its attacks actually had
gradients to follow.  Five checks, each passing or failing with its numbers:

* ``large_eps``: robust accuracy is about 0 at a large radius (64/255 L∞ by
  default); an attack that cannot break images even there is not working.
* ``budget_ladder``: more steps and restarts never raise accuracy: PGD-10 →
  APGD-CE (100 steps) → the ensemble's worst case must be non-increasing, and
  we count the images the weak attack broke but the strong one missed.
* ``black_box``: the score-based Square attack breaks no image the white-box
  members missed (it runs last in the ensemble, on exactly those images).
* ``transfer``: adversarial examples crafted on a plain surrogate model break
  no image the white-box attacks missed.
* ``zero_gradient``: the fraction of images whose loss gradient is exactly
  zero (saturated softmax, shattered gradients) stays below a threshold.

A failed check marks the model "suspicious": its robust accuracy is then
probably an overestimate, whatever the attacks report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.attacks import fold_batchnorm, frozen_eval
from core.robustness.outcomes import AttackOutcome

__all__ = ["MaskingCheck", "MaskingThresholds", "MASKING_CHECKS", "masking_checks", "zero_gradient_fraction",
           "suspicious"]

MASKING_CHECKS = ("large_eps", "budget_ladder", "black_box", "transfer", "zero_gradient")


@dataclass(frozen=True)
class MaskingThresholds:
    """When a check passes: accuracy at the large ε, fraction of zero gradients."""

    large_eps_max_accuracy: float = 0.01
    zero_gradient_max_fraction: float = 0.01


@dataclass
class MaskingCheck:
    """One check: ``passed`` is ``None`` when it could not run (``detail`` says why)."""

    name: str
    passed: bool | None
    detail: str
    numbers: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "skipped" if self.passed is None else ("pass" if self.passed else "FAIL")

    def to_dict(self) -> dict:
        return {"name": self.name, "passed": self.passed, "status": self.status, "detail": self.detail,
                **self.numbers}


def suspicious(checks: list[MaskingCheck]) -> bool:
    """True when any check failed (skipped checks do not count)."""
    return any(c.passed is False for c in checks)


def zero_gradient_fraction(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 256) -> float:
    """Fraction of ``images (N, C, H, W)`` whose cross-entropy input gradient is exactly zero."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    zero = 0
    with frozen_eval(model):
        net = fold_batchnorm(model)
        for start in range(0, images.shape[0], batch_size):
            x = images[start:start + batch_size].to(device).detach().requires_grad_(True)
            loss = F.cross_entropy(net(x), labels[start:start + batch_size].to(device), reduction="sum")
            (grad,) = torch.autograd.grad(loss, x)
            zero += int((grad.flatten(1).abs().amax(dim=1) == 0).sum())
    return zero / images.shape[0]


def _eps_labels(eps: list[float]) -> list[float]:
    return [round(e * 255, 3) for e in eps]


def _member_robust(worst: AttackOutcome, member: str) -> np.ndarray:
    """``(S, E, N)``: robust after the ensemble's members up to and including ``member``."""
    code = worst.attacks.index(member) + 1
    assert worst.broken_by is not None
    return (worst.broken_by < 0) | (worst.broken_by > code)


def _white_box_robust(worst: AttackOutcome) -> np.ndarray:
    """``(S, E, N)``: robust against every gradient-based member (Square's successes do not count)."""
    assert worst.broken_by is not None
    robust = worst.broken_by < 0
    if "square" in worst.attacks:
        robust |= worst.broken_by == worst.attacks.index("square") + 1
    return robust


def masking_checks(*, worst: AttackOutcome, large: AttackOutcome | None, weak: AttackOutcome | None,
                   transfer: AttackOutcome | None, zero_gradient: float | None,
                   thresholds: MaskingThresholds = MaskingThresholds()) -> list[MaskingCheck]:
    """The five checks from results already computed (see the module notes).

    Args:
        worst: the ensemble's outcome at the evaluation ε (with ``broken_by``).
        large: the ensemble's outcome at the large ε, or ``None`` (skipped).
        weak: the fixed-step PGD outcome at the same ε, or ``None``.
        transfer: the outcome of adversarial examples crafted on a surrogate, same ε, or ``None``.
        zero_gradient: :func:`zero_gradient_fraction`, or ``None``.
    """
    checks = []
    eps255 = _eps_labels(worst.eps)
    if large is None:
        checks.append(MaskingCheck("large_eps", None, "not run"))
    else:
        acc = float(large.accuracy().mean())
        checks.append(MaskingCheck(
            "large_eps", acc <= thresholds.large_eps_max_accuracy,
            f"robust accuracy {100 * acc:.1f}% at eps {large.eps[0] * 255:.0f}/255 "
            f"(must be <= {100 * thresholds.large_eps_max_accuracy:.0f}%)",
            {"eps": large.eps[0], "accuracy": acc}))
    ensemble_acc = worst.accuracy().mean(axis=0)
    if weak is None or "apgd-ce" not in worst.attacks:
        checks.append(MaskingCheck("budget_ladder", None, "no weak attack or no APGD-CE member to compare"))
    else:
        weak_acc = weak.accuracy().mean(axis=0)
        strong = _member_robust(worst, "apgd-ce")
        strong_acc = strong.mean(axis=2).mean(axis=0)
        missed = (~weak.robust[0] & strong[0]).sum(axis=1)
        ok = bool((strong_acc <= weak_acc + 1e-12).all() and (ensemble_acc <= strong_acc + 1e-12).all())
        checks.append(MaskingCheck(
            "budget_ladder", ok,
            f"accuracy {weak.name} -> apgd-ce -> ensemble never rises" if ok else
            f"a stronger budget gave higher accuracy than {weak.name} at some eps",
            {"eps_255": eps255, weak.name: weak_acc.tolist(), "apgd-ce": strong_acc.tolist(),
             "ensemble": ensemble_acc.tolist(), "images_only_weak_broke": missed.tolist()}))
    if "square" not in worst.attacks:
        checks.append(MaskingCheck("black_box", None, "the ensemble has no Square member (L-inf only)"))
    else:
        code = worst.attacks.index("square") + 1
        by_square = (worst.broken_by[0] == code).sum(axis=1)
        checks.append(MaskingCheck(
            "black_box", bool((by_square == 0).all()),
            "Square broke no image the white-box attacks missed" if not by_square.any() else
            f"Square broke {int(by_square.sum())} image(s) the white-box attacks missed",
            {"eps_255": eps255, "images_only_square_broke": by_square.tolist()}))
    if transfer is None:
        checks.append(MaskingCheck("transfer", None, "no surrogate model given"))
    else:
        white = _white_box_robust(worst)
        only = (~transfer.robust[0] & white[0]).sum(axis=1)
        checks.append(MaskingCheck(
            "transfer", bool((only == 0).all()),
            "transfer from the surrogate broke no image the white-box attacks missed" if not only.any() else
            f"transfer broke {int(only.sum())} image(s) the white-box attacks missed",
            {"eps_255": eps255, "transfer_accuracy": transfer.accuracy().mean(axis=0).tolist(),
             "white_box_accuracy": white.mean(axis=2).mean(axis=0).tolist(),
             "images_only_transfer_broke": only.tolist(),
             "surrogate": transfer.meta.get("surrogate")}))
    if zero_gradient is None:
        checks.append(MaskingCheck("zero_gradient", None, "not run"))
    else:
        checks.append(MaskingCheck(
            "zero_gradient", zero_gradient <= thresholds.zero_gradient_max_fraction,
            f"{100 * zero_gradient:.1f}% of images have an exactly zero input gradient "
            f"(must be <= {100 * thresholds.zero_gradient_max_fraction:.0f}%)", {"fraction": zero_gradient}))
    return checks
