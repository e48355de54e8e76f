"""PGD (Madry et al. 2018) in the L∞ or L2 ball, with random start and restarts."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from core.attacks.base import Attack, LossFn
from core.attacks.batch import FlatBatch, unit_ball_noise
from core.errors import ConfigError

__all__ = ["PGD", "PGD_NORMS"]

PGD_NORMS = ("inf", "2")


class PGD(Attack):
    """Projected gradient descent on the loss, in the L∞ (``norm="inf"``) or L2 ball.

    Each step moves by ``alpha`` along ``sign(∇)`` (L∞) or ``∇/‖∇‖₂`` (L2) and
    projects back onto the ε-ball ∩ ``[0, 1]``.

    Args:
        model, eps, targeted, loss, roi_mode, fuse_bn, max_batch: see :class:`~core.attacks.base.Attack`.
        norm: ``"inf"`` or ``"2"``.
        alpha: step size in pixel units; ``None`` means ``2.5 · ε / steps`` for
            each ε (Madry et al.'s rule, so every ε of a batched curve gets a
            step size that can reach the boundary).
        steps: number of gradient steps (≥ 1).
        random_start: start from a uniform point in the ε-ball (default on).
        restarts: independent random starts; per sample the first successful
            result is kept, or the highest-loss one if none succeeds.
    """

    def __init__(self, model: nn.Module, eps=8 / 255, *, norm: str = "inf", alpha: float | None = None,
                 steps: int = 10, random_start: bool = True, restarts: int = 1,
                 targeted: bool = False, loss: LossFn | None = None, roi_mode: str = "inside",
                 fuse_bn: bool = True, max_batch: int = 64) -> None:
        super().__init__(model, eps, targeted=targeted, loss=loss, roi_mode=roi_mode, fuse_bn=fuse_bn,
                         max_batch=max_batch)
        norm = str(norm).lower().removeprefix("l")
        if norm not in PGD_NORMS:
            raise ConfigError(f"PGD norm must be 'inf' or '2', got {norm!r}")
        if int(steps) < 1:
            raise ConfigError(f"steps must be >= 1, got {steps}")
        if int(restarts) < 1:
            raise ConfigError(f"restarts must be >= 1, got {restarts}")
        if alpha is not None and not (alpha > 0):
            raise ConfigError(f"alpha must be > 0, got {alpha}")
        self.norm = norm
        self.alpha = alpha
        self.steps = int(steps)
        self.random_start = bool(random_start)
        self.restarts = int(restarts)

    def _perturb(self, batch: FlatBatch) -> Tensor:
        x, y = batch.x, batch.y
        best = x.clone()
        best_objective = torch.full((x.shape[0],), -torch.inf, device=x.device, dtype=x.dtype)
        done = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        for _ in range(self.restarts):
            # Later restarts attack only the samples no earlier run fooled.  Every run draws
            # its noise for all source images, so the draws do not depend on that subset.
            todo = (~done).nonzero().squeeze(1)
            adv = self._one_run(batch.subset(todo))
            logits = self._logits(adv)
            with torch.no_grad():
                objective = self._objective(logits, y[todo])
                success = self._is_successful(logits, y[todo])
            # A sample already fooled keeps its first success; others keep the strongest run.
            take = success | (objective > best_objective[todo])
            best[todo[take]] = adv[take]
            best_objective[todo[take]] = objective[take]
            done[todo[success]] = True
            if bool(done.all()):
                break
        return best

    def _one_run(self, batch: FlatBatch) -> Tensor:
        x, y, eps, mask = batch.x, batch.y, batch.eps, batch.mask
        e = eps.view(-1, 1, 1, 1)
        alpha = 2.5 * e / self.steps if self.alpha is None else torch.full_like(e, self.alpha)
        adv = x
        if self.random_start:
            adv = self._project(x + e * unit_ball_noise(batch, self.norm, batch.generator), x, eps, mask)
        for _ in range(self.steps):
            grad, _ = self._gradient(adv, y)
            if mask is not None:
                grad = grad * mask
            if self.norm == "inf":
                direction = grad.sign()
            else:
                norms = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
                direction = grad / norms
            adv = self._project(adv + alpha * direction, x, eps, mask)
        return adv
