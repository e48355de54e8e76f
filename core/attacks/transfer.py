"""Transfer attack: adversarial examples crafted on a surrogate model, judged on the target.

A gradient-masking check (Carlini et al. 2019): if images crafted on a plain
surrogate fool the target where white-box attacks on the target failed, the
target's own gradients were misleading the white-box attacks.
"""

from __future__ import annotations

from torch import Tensor, nn

from core.attacks.apgd import APGD
from core.attacks.base import Attack
from core.attacks.batch import FlatBatch

__all__ = ["Transfer"]


class Transfer(Attack):
    """Attack ``model`` with the images ``source`` (an attack on another model) produces.

    The base class checks ``model``'s outputs and labels as usual; ``source``
    checks its own model (same classes) when called.  By default the source is
    APGD-CE without early stopping, so it returns its highest-loss point
    (transferable examples sit deep on the wrong side of the surrogate's boundary).

    Args:
        model: the target, ``(B, C, H, W)`` -> logits.
        surrogate: the model the examples are crafted on.
        eps, roi_mode: see :class:`~core.attacks.base.Attack`.
        norm, steps: the source APGD-CE's ball and budget.
    """

    name = "transfer"

    def __init__(self, model: nn.Module, surrogate: nn.Module, eps=8 / 255, *, norm: str = "inf", steps: int = 50,
                 roi_mode: str = "inside", max_batch: int = 64) -> None:
        super().__init__(model, eps, roi_mode=roi_mode, max_batch=max_batch)
        self.source = APGD(surrogate, eps, norm=norm, steps=steps, stop_at_success=False, max_batch=max_batch)
        self.norm = self.source.norm

    def _perturb(self, batch: FlatBatch) -> Tensor:
        # Every flat sample is its own image for the source: the noise then differs across
        # the ε copies, which does not matter for a check (and keeps the source's API public).
        return self.source.perturb_each(batch.x, batch.y, batch.eps, roi=batch.mask, generator=batch.generator)
