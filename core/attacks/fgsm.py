"""FGSM (Goodfellow et al. 2015): one signed-gradient step of size ε."""

from __future__ import annotations

from torch import Tensor

from core.attacks.base import Attack
from core.attacks.batch import FlatBatch

__all__ = ["FGSM"]


class FGSM(Attack):
    """Fast gradient sign method, L∞: ``x + ε · sign(∇_x loss)``, clamped to ``[0, 1]``.

    A single step: a weak attack, kept to compare with the literature.  See
    :class:`core.attacks.base.Attack` for the call signature, the batched ε
    axis and ROI masks.
    """

    norm = "inf"
    name = "fgsm"

    def _perturb(self, batch: FlatBatch) -> Tensor:
        grad, _ = self._gradient(batch.x, batch.y)
        step = grad.sign()
        if batch.mask is not None:
            step = step * batch.mask
        return batch.x + batch.eps.view(-1, 1, 1, 1) * step
