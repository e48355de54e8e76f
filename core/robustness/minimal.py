"""Minimal adversarial perturbations per image, next to CLEVER's estimated lower bound.

CLEVER (Weng et al. 2018) *estimates* a lower bound on the smallest
perturbation that changes a prediction; an attack that finds a smaller one
proves the estimate too high for that image.  :func:`minimal_perturbation`
bisects, per image, the radius at which the ``fast`` ensemble (APGD-CE,
APGD-T; Square too in L∞) flips the model's own prediction: every radius it
reports carries an adversarial example of at most that norm, so it is an
empirical **upper** bound on the true minimum.  :func:`clever_vs_minimal`
counts the images where CLEVER exceeds it, i.e. overestimates robustness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from core.attacks import AutoAttack
from core.errors import ConfigError
from core.robustness.curves import predict

__all__ = ["MinimalPerturbation", "minimal_perturbation", "clever_vs_minimal"]


@dataclass
class MinimalPerturbation:
    """Per image: the smallest radius found to flip the prediction (``inf`` when none up to ``upper``)."""

    norm: str
    upper: float
    eps: np.ndarray
    iterations: int
    attack: str

    @property
    def found(self) -> np.ndarray:
        return np.isfinite(self.eps)

    def to_dict(self) -> dict:
        return {"norm": self.norm, "upper": self.upper, "iterations": self.iterations, "attack": self.attack,
                "eps": [float(e) if math.isfinite(e) else None for e in self.eps]}


def _size(delta: Tensor, norm: str) -> Tensor:
    flat = delta.flatten(1)
    return flat.abs().amax(dim=1) if norm == "inf" else flat.norm(dim=1)


def minimal_perturbation(model: nn.Module, images: Tensor, *, norm: str = "2", upper: float = 2.0,
                         iterations: int = 8, steps: int = 50, seed: int = 0) -> MinimalPerturbation:
    """Bisect per image the radius at which the ensemble flips ``model``'s prediction on ``images (N, C, H, W)``.

    Starts at ``upper`` (images not flipped there are reported as ``inf``), then
    ``iterations`` halvings of ``[lo, hi]``; ``hi`` only ever moves to the norm of
    an adversarial example actually found, so the result is an upper bound.
    """
    norm = str(norm).lower().removeprefix("l")
    if norm not in ("inf", "2"):
        raise ConfigError(f"minimal perturbations are measured in L-inf or L2, got L{norm}")
    if not upper > 0 or iterations < 0:
        raise ConfigError(f"need upper > 0 and iterations >= 0, got {upper} and {iterations}")
    attack = AutoAttack(model, upper, version="fast", norm=norm, steps=steps)
    labels = predict(model, images)
    x = images.detach()
    lo = torch.zeros(x.shape[0], dtype=torch.float64)
    hi = torch.full((x.shape[0],), float(upper), dtype=torch.float64)
    found = torch.zeros(x.shape[0], dtype=torch.bool)

    def attempt(index: Tensor, radius: Tensor) -> tuple[Tensor, Tensor]:
        adv = attack.perturb_each(x[index], labels[index], radius, generator=torch.Generator().manual_seed(seed))
        success = predict(model, adv) != labels[index]
        return success, _size(adv - x[index].to(adv.device), norm).double().cpu()

    everyone = torch.arange(x.shape[0])
    success, size = attempt(everyone, hi)
    found[success] = True
    hi[success] = torch.minimum(hi[success], size[success])
    for _ in range(iterations):
        index = found.nonzero().squeeze(1)
        if index.numel() == 0:
            break
        mid = (lo[index] + hi[index]) / 2
        success, size = attempt(index, mid)
        hi[index[success]] = torch.minimum(mid[success], size[success])
        lo[index[~success]] = mid[~success]
    eps = torch.where(found, hi, torch.full_like(hi, math.inf)).numpy()
    return MinimalPerturbation(norm, float(upper), eps, int(iterations), f"autoattack-fast ({steps} steps), bisection")


def clever_vs_minimal(clever_scores: Sequence[float], minimal: MinimalPerturbation) -> dict:
    """How often CLEVER (an estimated lower bound) exceeds the empirical minimum (an upper bound).

    Only images with a minimum found within ``upper`` can show an overestimate;
    CLEVER is capped at its radius, so the others cannot.
    """
    scores = np.asarray(clever_scores, dtype=np.float64)
    if scores.shape != minimal.eps.shape:
        raise ConfigError(f"need one CLEVER score per image: {scores.size} scores for {minimal.eps.size} images")
    over = scores > minimal.eps
    return {"norm": minimal.norm, "n_images": int(scores.size), "n_found": int(minimal.found.sum()),
            "overestimates": int(over.sum()), "overestimate_rate": float(over.mean()) if scores.size else None,
            "pairs": [{"clever": float(c), "minimal": float(m) if math.isfinite(m) else None}
                      for c, m in zip(scores, minimal.eps)]}
