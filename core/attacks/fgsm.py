"""FGSM (Goodfellow et al. 2015): one signed-gradient step of size ε."""

from __future__ import annotations

import torch
from torch import Tensor

from core.attacks.base import Attack

__all__ = ["FGSM"]


class FGSM(Attack):
    """Fast gradient sign method, L∞: ``x + ε · sign(∇_x loss)``, clamped to ``[0, 1]``.

    See :class:`core.attacks.base.Attack` for the call signature, the batched ε
    axis and ROI masks.
    """

    norm = "inf"

    def _perturb(self, x: Tensor, y: Tensor, eps: Tensor, mask: Tensor | None,
                 generator: torch.Generator | None, n_eps: int) -> Tensor:
        grad, _ = self._gradient(x, y)
        step = grad.sign()
        if mask is not None:
            step = step * mask
        return x + eps.view(-1, 1, 1, 1) * step
