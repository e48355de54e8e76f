"""Square attack (Andriushchenko et al., ECCV 2020), L∞: score-based random search, no gradients.

AutoAttack's black-box member, and our check that the white-box attacks are not
fooled by masked gradients: it only ever queries the model's logits.

* Start: vertical stripes, every column of every channel shifted by ``±ε``.
* Each query changes one square window of side ``s`` (shrinking with the
  schedule ``p`` of the paper, rescaled to the query budget) to ``±2ε`` per
  channel, projects back onto the ε-ball ∩ ``[0, 1]``, and keeps the change
  when the margin loss ``z_y − max_{j≠y} z_j`` decreases (or the image is misclassified).
* A sample stops once its margin is ≤ 0.

One window position and one set of channel signs are drawn per query and
shared by every sample (as in AutoAttack's implementation), so a sample's
result does not depend on which others share its batch, and a batched-ε call
equals the loop of single-ε calls.  With an ROI mask the window is only
applied inside the allowed pixels; windows that miss them waste the query.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from core.attacks.base import Attack
from core.attacks.batch import FlatBatch, image_noise
from core.errors import ConfigError

__all__ = ["Square", "square_p_schedule"]

# The schedule's breakpoints for a 10 000-query budget and the divisor of p_init after each.
_BREAKS = ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64), (6000, 128), (8000, 256))


def square_p_schedule(query: int, n_queries: int, p_init: float) -> float:
    """Fraction of pixels the window covers at ``query`` (the paper's schedule, rescaled to ``n_queries``)."""
    it = int(query / n_queries * 10000)
    for limit, divisor in _BREAKS:
        if it <= limit:
            return p_init / divisor
    return p_init / 512


class Square(Attack):
    """Score-based L∞ Square attack.

    Args:
        model, eps, targeted, roi_mode, fuse_bn, max_batch: see :class:`~core.attacks.base.Attack`.
        n_queries: query budget per image (AutoAttack's standard: 5000).
        p_init: initial fraction of the image a window covers (0.8).
    """

    norm = "inf"
    name = "square"

    def __init__(self, model: nn.Module, eps=8 / 255, *, n_queries: int = 5000, p_init: float = 0.8,
                 targeted: bool = False, roi_mode: str = "inside", fuse_bn: bool = True,
                 max_batch: int = 256) -> None:
        super().__init__(model, eps, targeted=targeted, roi_mode=roi_mode, fuse_bn=fuse_bn, max_batch=max_batch)
        if int(n_queries) < 1:
            raise ConfigError(f"n_queries must be >= 1, got {n_queries}")
        if not 0 < p_init <= 1:
            raise ConfigError(f"p_init must be in (0, 1], got {p_init}")
        self.n_queries, self.p_init = int(n_queries), float(p_init)

    def _margin(self, logits: Tensor, y: Tensor) -> Tensor:
        """``(N,)`` margin to minimise; ≤ 0 means success (misclassified, or at the target)."""
        z_y = logits.gather(1, y[:, None])[:, 0]
        others = logits.scatter(1, y[:, None], -torch.inf).amax(dim=1)
        return others - z_y if self.targeted else z_y - others

    def _perturb(self, batch: FlatBatch) -> Tensor:
        out = batch.x.clone()
        todo = (~self._is_successful(batch.clean_logits, batch.y) & (batch.eps > 0)).nonzero().squeeze(1)
        # Drawn whether or not anything is left to attack, so the stream never depends on the batch.
        generator = batch.generator
        b = batch.subset(todo)
        _, c, h, w = batch.x.shape
        stripes = image_noise(b, (c, 1, w), "sign", generator)
        if todo.numel() == 0:
            return out
        x, y, e, mask = b.x, b.y, b.eps.view(-1, 1, 1, 1), b.mask
        lo, hi = (x - e).clamp_min(0.0), (x + e).clamp_max(1.0)
        start = stripes * e if mask is None else stripes * e * mask
        best = torch.minimum(torch.maximum(x + start, lo), hi)
        margin = self._margin(self._logits(best), y)
        rows = torch.arange(h, device=x.device).view(1, h, 1)
        cols = torch.arange(w, device=x.device).view(1, 1, w)
        for query in range(self.n_queries):
            side = max(int(round(math.sqrt(square_p_schedule(query, self.n_queries, self.p_init) * h * w))), 1)
            side = min(side, h, w)
            top = int(torch.randint(0, h - side + 1, (1,), generator=generator))
            left = int(torch.randint(0, w - side + 1, (1,), generator=generator))
            signs = (torch.randint(0, 2, (c, 1, 1), generator=generator).float() * 2 - 1).to(x)
            active = (margin > 0).nonzero().squeeze(1)
            if active.numel() == 0:
                break
            window = ((rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)).to(x.dtype)
            change = 2 * e[active] * signs * window
            if mask is not None:
                change = change * mask[active]
            candidate = torch.minimum(torch.maximum(best[active] + change, lo[active]), hi[active])
            new_margin = self._margin(self._logits(candidate), y[active])
            improved = new_margin < margin[active]
            best[active[improved]] = candidate[improved]
            margin[active[improved]] = new_margin[improved]
        out[todo] = best
        return out
