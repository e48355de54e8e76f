"""FAB-T (Croce & Hein, ICML 2020): the targeted Fast Adaptive Boundary attack, L∞ or L2.

A minimal-norm attack.  For the classes ranked 2nd, 3rd, … by the clean
logits, each step linearises the margin ``g = z_t − z_y`` at the current
point, projects both the current point and the clean image onto the
linearised decision boundary inside the pixel box
(:mod:`core.attacks.fab_projections`), and moves to a convex combination of
the two (weight ``α ≤ α_max`` on the clean image's projection, both
overshot by ``η``).  Whenever the point is misclassified it records it if
its distance to the clean image is the smallest so far, then pulls it back
towards the clean image by ``β``.  An image is broken when the smallest
misclassified point lies within ε.  Restarts after the first start at a
random point at half the radius, as in the reference.

AutoAttack's standard version runs FAB-T with 100 steps and 9 targets; like
APGD here, a sample stops being computed once it is broken within its ε.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from core.attacks.apgdt import DEFAULT_TARGETS
from core.attacks.base import Attack
from core.attacks.batch import FlatBatch, child_generators, image_noise
from core.attacks.fab_projections import project_l2, project_linf
from core.errors import ConfigError

__all__ = ["FABT"]


class FABT(Attack):
    """Targeted FAB over the top-``n_targets`` other classes (success = misclassified within ε).

    Args:
        model, eps, roi_mode, fuse_bn, max_batch: see :class:`~core.attacks.base.Attack`.
        norm: ``"inf"`` or ``"2"``.
        n_targets: target classes per image, most likely first (default ``min(9, K − 1)``).
        steps: iterations per target and restart (AutoAttack: 100).
        restarts: starts per target; the first is the clean image, later ones random.
        alpha_max, eta, beta: the paper's step parameters (0.1, 1.05, 0.9).
    """

    name = "fab-t"

    def __init__(self, model: nn.Module, eps=8 / 255, *, norm: str = "inf", n_targets: int | None = None,
                 steps: int = 100, restarts: int = 1, alpha_max: float = 0.1, eta: float = 1.05,
                 beta: float = 0.9, roi_mode: str = "inside", fuse_bn: bool = True, max_batch: int = 64) -> None:
        super().__init__(model, eps, roi_mode=roi_mode, fuse_bn=fuse_bn, max_batch=max_batch)
        norm = str(norm).lower().removeprefix("l")
        if norm not in ("inf", "2"):
            raise ConfigError(f"FAB-T norm must be 'inf' or '2', got {norm!r}")
        if int(steps) < 1 or int(restarts) < 1 or (n_targets is not None and int(n_targets) < 1):
            raise ConfigError(f"steps, restarts and n_targets must be >= 1, got {steps}, {restarts}, {n_targets}")
        self.norm, self.steps, self.restarts = norm, int(steps), int(restarts)
        self.n_targets = None if n_targets is None else int(n_targets)
        self.alpha_max, self.eta, self.beta = float(alpha_max), float(eta), float(beta)

    def _size(self, delta: Tensor) -> Tensor:
        flat = delta.flatten(1)
        return flat.abs().amax(dim=1) if self.norm == "inf" else flat.norm(dim=1)

    def _perturb(self, batch: FlatBatch) -> Tensor:
        out = batch.x.clone()
        broken = ~batch.clean_correct
        ranking = batch.clean_logits.argsort(dim=1, descending=True)
        n_targets = min(DEFAULT_TARGETS if self.n_targets is None else self.n_targets, batch.n_classes - 1)
        for rank, target_gen in enumerate(child_generators(batch.generator, n_targets), start=1):
            for restart, generator in enumerate(child_generators(target_gen, self.restarts)):
                todo = (~broken & (batch.eps > 0)).nonzero().squeeze(1)
                if todo.numel() == 0:
                    return out
                sub = batch.subset(todo, generator)
                adv, size = self._single_run(sub, ranking[todo, rank], random_start=restart > 0)
                success = size <= sub.eps
                out[todo[success]] = adv[success]
                broken[todo[success]] = True
        return out

    def _single_run(self, b: FlatBatch, target: Tensor, random_start: bool) -> tuple[Tensor, Tensor]:
        """``(smallest misclassified point (n, C, H, W), its distance (n,), inf if none)``."""
        x0, y, mask, n = b.x, b.y, b.mask, len(b)
        project = project_linf if self.norm == "inf" else project_l2
        best, best_size = x0.clone(), torch.full((n,), torch.inf, device=x0.device, dtype=x0.dtype)
        x1 = x0.clone()
        if random_start:
            tail = tuple(x0.shape[1:])
            t = image_noise(b, tail, "uniform", b.generator) * 2 - 1 if self.norm == "inf" else \
                image_noise(b, tail, "normal", b.generator)
            t = t if mask is None else t * mask
            x1 = (x0 + 0.5 * b.eps.view(-1, 1, 1, 1) * t / self._size(t).clamp_min(1e-12).view(-1, 1, 1, 1))
            x1 = x1.clamp(0.0, 1.0)
        for _ in range(self.steps):
            active = (best_size > b.eps).nonzero().squeeze(1)
            if active.numel() == 0:
                break
            xa, xo, ya, ta = x1[active], x0[active], y[active], target[active]
            grad, margin, _ = self._value_and_grad(
                xa, lambda logits, rows: logits.gather(1, ta[rows, None])[:, 0] - logits.gather(1, ya[rows, None])[:, 0])
            if mask is not None:
                grad = grad * mask[active]
            w = grad.flatten(1)
            offset = -margin + (w * xa.flatten(1)).sum(dim=1)
            moves = project(torch.cat((xa.flatten(1), xo.flatten(1))), torch.cat((w, w)), torch.cat((offset, offset)))
            sizes = (moves.abs().amax(dim=1) if self.norm == "inf" else moves.norm(dim=1)).clamp_min(1e-8)
            m = active.numel()
            d1, d2 = moves[:m].view_as(xa), moves[m:].view_as(xa)
            a1, a2 = sizes[:m].view(-1, 1, 1, 1), sizes[m:].view(-1, 1, 1, 1)
            alpha = (a1 / (a1 + a2)).clamp(0.0, self.alpha_max)
            xn = ((xa + self.eta * d1) * (1 - alpha) + (xo + self.eta * d2) * alpha).clamp(0.0, 1.0)
            wrong = self._logits(xn).argmax(dim=1) != ya
            size = self._size(xn - xo)
            better = wrong & (size < best_size[active])
            best[active[better]] = xn[better]
            best_size[active[better]] = size[better]
            xn[wrong] = xo[wrong] + (xn[wrong] - xo[wrong]) * self.beta
            x1[active] = xn
        return best, best_size
