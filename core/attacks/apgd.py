"""APGD (Croce & Hein, ICML 2020): PGD with an adaptive step size, momentum and restarts.

The schedule follows the paper and its reference code (``fra31/auto-attack``):

* the step size starts at ``2ε`` and is halved at checkpoints ``p_0 = 0``,
  ``p_1 = 0.22·N``, ``p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03·N, 0.06·N)`` when
  the objective increased in at most ``ρ = 0.75`` of the steps since the last
  checkpoint, or when the step was not halved last time and the best objective
  did not improve; a halved step restarts from the best point found;
* every step combines the projected gradient step with momentum 0.75:
  ``x ← P(x + 0.75·(z − x) + 0.25·(x − x_prev))``;
* the random start lies on the sphere of radius ε (L∞: ``ε·t/‖t‖∞``, L2: ``ε·t/‖t‖₂``);
* restarts run only on the samples no earlier restart fooled.

Differences, none of which changes which samples are fooled: each sample stops
being computed once it is misclassified (the reference keeps stepping until
the end), the oscillation count of the first checkpoint compares with the
start's objective (the reference wraps around to an unset row), and samples
that are never fooled return their highest-objective point rather than the
clean image.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.attacks.base import Attack
from core.attacks.batch import FlatBatch, child_generators, image_noise
from core.attacks.dlr import check_dlr_classes, dlr_loss
from core.errors import ConfigError

__all__ = ["APGD", "APGD_LOSSES", "APGD_NORMS"]

APGD_LOSSES = ("ce", "dlr")
APGD_NORMS = ("inf", "2")

#: ``objective(logits (n, K), index (n,)) -> (n,)``: value to maximise; ``index`` points into the flat batch.
Objective = Callable[[Tensor, Tensor], Tensor]


def _cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(logits, y, reduction="none")


class APGD(Attack):
    """Auto-PGD with cross-entropy (APGD-CE) or DLR (APGD-DLR) loss, in the L∞ or L2 ball.

    Args:
        model, eps, targeted, roi_mode, fuse_bn, max_batch: see :class:`~core.attacks.base.Attack`.
        norm: ``"inf"`` or ``"2"``.
        loss: ``"ce"`` or ``"dlr"`` (untargeted DLR needs at least 3 classes).
        steps: gradient steps per restart (AutoAttack uses 100).
        restarts: random restarts (AutoAttack's standard version uses 1 for APGD-CE).
        rho: the oscillation threshold of the step-size checkpoints.
        momentum: weight of the new step (0.75); ``1 − momentum`` carries the last move.
        stop_at_success: stop computing a sample once it is fooled (the ensemble's
            use).  ``False`` keeps maximising the loss and returns the
            highest-loss point of every sample (transfer attacks want that).
    """

    def __init__(self, model: nn.Module, eps=8 / 255, *, norm: str = "inf", loss: str = "ce", steps: int = 100,
                 restarts: int = 1, rho: float = 0.75, momentum: float = 0.75, stop_at_success: bool = True,
                 targeted: bool = False, roi_mode: str = "inside", fuse_bn: bool = True,
                 max_batch: int = 64) -> None:
        loss = str(loss).lower()
        if loss not in APGD_LOSSES:
            raise ConfigError(f"APGD loss must be one of {APGD_LOSSES}, got {loss!r}")
        if targeted and loss == "dlr":
            raise ConfigError("targeted DLR needs the true class as well as the target: use APGDT (apgd-t)")
        super().__init__(model, eps, targeted=targeted, loss=dlr_loss if loss == "dlr" else _cross_entropy,
                         roi_mode=roi_mode, fuse_bn=fuse_bn, max_batch=max_batch)
        norm = str(norm).lower().removeprefix("l")
        if norm not in APGD_NORMS:
            raise ConfigError(f"APGD norm must be 'inf' or '2', got {norm!r}")
        if int(steps) < 1 or int(restarts) < 1:
            raise ConfigError(f"steps and restarts must be >= 1, got {steps} and {restarts}")
        if not 0 < rho < 1 or not 0 < momentum <= 1:
            raise ConfigError(f"need 0 < rho < 1 and 0 < momentum <= 1, got {rho} and {momentum}")
        self.norm, self.loss, self.steps, self.restarts = norm, loss, int(steps), int(restarts)
        self.rho, self.momentum, self.stop_at_success = float(rho), float(momentum), bool(stop_at_success)
        self.name = f"apgd-{loss}"

    def _check_classes(self, n_classes: int) -> None:
        if self.loss == "dlr":
            check_dlr_classes(n_classes, targeted=False, who="APGD-DLR")

    def _perturb(self, batch: FlatBatch) -> Tensor:
        out, fooled, best = self._start_state(batch)
        self._restarts(batch, lambda logits, index: self._objective(logits, batch.y[index]), out, fooled, best)
        return out

    # -- shared with APGD-T ----------------------------------------------------

    def _start_state(self, batch: FlatBatch) -> tuple[Tensor, Tensor, Tensor]:
        """``(adv, fooled, best objective)`` before any run: the clean images, and with
        :attr:`stop_at_success` the samples that need no attack count as fooled."""
        fooled = self._is_successful(batch.clean_logits, batch.y)
        if not self.stop_at_success:
            fooled = torch.zeros_like(fooled)
        best = torch.full((len(batch),), -torch.inf, device=batch.x.device, dtype=batch.x.dtype)
        return batch.x.clone(), fooled, best

    def _restarts(self, batch: FlatBatch, objective: Objective, out: Tensor, fooled: Tensor, best: Tensor) -> None:
        """Run :attr:`restarts` random starts on the samples not yet fooled; update the state in place."""
        for generator in child_generators(batch.generator, self.restarts):
            todo = (~fooled & (batch.eps > 0)).nonzero().squeeze(1)
            if todo.numel() == 0:
                return
            adv, success, value = self._single_run(batch.subset(todo, generator),
                                                   lambda logits, index: objective(logits, todo[index]))
            keep = success | (value > best[todo])
            out[todo[keep]] = adv[keep]
            best[todo[keep]] = value[keep]
            fooled[todo[success]] = True

    def _direction(self, grad: Tensor) -> Tensor:
        if self.norm == "inf":
            return grad.sign()
        return grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)

    def _random_start(self, b: FlatBatch) -> Tensor:
        """A point on the ε-sphere around each clean image (only inside the mask), projected."""
        tail = tuple(b.x.shape[1:])
        t = image_noise(b, tail, "uniform", b.generator) * 2 - 1 if self.norm == "inf" else \
            image_noise(b, tail, "normal", b.generator)
        if b.mask is not None:
            t = t * b.mask
        size = t.flatten(1).abs().amax(dim=1) if self.norm == "inf" else t.flatten(1).norm(dim=1)
        t = t / size.clamp_min(1e-12).view(-1, 1, 1, 1)
        return self._project(b.x + b.eps.view(-1, 1, 1, 1) * t, b.x, b.eps, b.mask)

    def _single_run(self, b: FlatBatch, objective: Objective) -> tuple[Tensor, Tensor, Tensor]:
        """One random start: ``(adversarial (n, C, H, W), fooled (n,), best objective (n,))``."""
        x, y, mask, n = b.x, b.y, b.mask, len(b)
        k = max(int(0.22 * self.steps), 1)
        k_min, k_dec = max(int(0.06 * self.steps), 1), max(int(0.03 * self.steps), 1)

        def evaluate(points: Tensor, index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            return self._value_and_grad(points, lambda logits, rows: objective(logits, index[rows]))

        everyone = torch.arange(n, device=x.device)
        x_adv = self._random_start(b)
        grad, value, logits = evaluate(x_adv, everyone)
        fooled = self._is_successful(logits, y)
        found = x_adv.clone()
        x_best, grad_best, value_best = x_adv.clone(), grad.clone(), value.clone()
        step = 2 * b.eps.view(-1, 1, 1, 1).clone()
        x_old = x_adv.clone()
        history = torch.zeros(self.steps + 1, n, device=x.device, dtype=value.dtype)
        history[0] = value
        since_check, best_at_check = 0, value_best.clone()
        halved_at_check = torch.ones(n, dtype=torch.bool, device=x.device)
        for i in range(self.steps):
            active = (~fooled).nonzero().squeeze(1) if self.stop_at_success else everyone
            if active.numel() == 0:
                break
            xa, x0, ea = x_adv[active], x[active], b.eps[active]
            ma = None if mask is None else mask[active]
            g = grad[active] if ma is None else grad[active] * ma
            a = self.momentum if i > 0 else 1.0
            z = self._project(xa + step[active] * self._direction(g), x0, ea, ma)
            z = self._project(xa + a * (z - xa) + (1 - a) * (xa - x_old[active]), x0, ea, ma)
            x_old[active] = xa
            x_adv[active] = z
            g_new, v_new, logits = evaluate(z, active)
            grad[active] = g_new
            hit = self._is_successful(logits, y[active])
            found[active[hit]] = z[hit]
            fooled[active[hit]] = True
            better = v_new > value_best[active]
            x_best[active[better]] = z[better]
            grad_best[active[better]] = g_new[better]
            value_best[active[better]] = v_new[better]
            history[i + 1, active] = v_new
            since_check += 1
            if since_check == k:
                window = history[i + 1 - k:i + 2]
                oscillating = (window[1:] > window[:-1]).sum(dim=0) <= k * self.rho
                stalled = ~halved_at_check & (best_at_check >= value_best)
                halve = oscillating | stalled
                halved_at_check, best_at_check = halve, value_best.clone()
                step[halve] /= 2
                x_adv[halve] = x_best[halve]
                grad[halve] = grad_best[halve]
                since_check, k = 0, max(k - k_dec, k_min)
        result = torch.where(fooled.view(-1, 1, 1, 1), found, x_best) if self.stop_at_success else x_best
        return result, fooled, value_best
