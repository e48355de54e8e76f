"""PGD (Madry et al. 2018) in the L∞ or L2 ball, with random start and restarts."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from core.attacks.base import Attack, LossFn, _unit_l2_noise, _unit_linf_noise
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

    def _perturb(self, x: Tensor, y: Tensor, eps: Tensor, mask: Tensor | None,
                 generator: torch.Generator | None, n_eps: int) -> Tensor:
        best = x.clone()
        best_objective = torch.full((x.shape[0],), -torch.inf, device=x.device, dtype=x.dtype)
        done = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        for _ in range(self.restarts):
            adv = self._one_run(x, y, eps, mask, generator, n_eps)
            logits = self._logits(adv)
            with torch.no_grad():
                objective = self._objective(logits, y)
                success = self._is_successful(logits, y)
            # A sample already fooled keeps its first success; others keep the strongest run.
            take = ~done & (success | (objective > best_objective))
            best[take] = adv[take]
            best_objective = torch.where(take, objective, best_objective)
            done |= success
            if bool(done.all()):
                break
        return best

    def _one_run(self, x: Tensor, y: Tensor, eps: Tensor, mask: Tensor | None,
                 generator: torch.Generator | None, n_eps: int) -> Tensor:
        e = eps.view(-1, 1, 1, 1)
        alpha = 2.5 * e / self.steps if self.alpha is None else torch.full_like(e, self.alpha)
        adv = x
        if self.random_start:
            b = x.shape[0] // n_eps
            unit = (_unit_linf_noise if self.norm == "inf" else _unit_l2_noise)(
                torch.Size((b, *x.shape[1:])), x, generator)
            adv = self._project(x + e * unit.repeat(n_eps, 1, 1, 1), x, eps, mask)
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
