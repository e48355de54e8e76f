"""APGD-T (Croce & Hein, ICML 2020): APGD on the targeted DLR loss, one run per likely class.

For each of the ``n_targets`` classes ranked 2nd, 3rd, … by the clean logits,
APGD maximises the targeted DLR loss towards that class on the samples no
earlier target fooled.  Success means *misclassified* (any wrong class), as in
AutoAttack: the targets only steer the search, so APGD-T is an untargeted attack.
"""

from __future__ import annotations

from torch import Tensor, nn

from core.attacks.apgd import APGD
from core.attacks.batch import FlatBatch, child_generators
from core.attacks.dlr import check_dlr_classes, targeted_dlr_loss
from core.errors import ConfigError

__all__ = ["APGDT", "DEFAULT_TARGETS"]

#: AutoAttack's number of target classes (all others for 10 classes); capped at K − 1.
DEFAULT_TARGETS = 9


class APGDT(APGD):
    """Targeted APGD-DLR over the top-``n_targets`` other classes (needs at least 4 classes).

    Args:
        model, eps, norm, steps, restarts, rho, momentum, roi_mode, fuse_bn, max_batch: see :class:`APGD`.
        n_targets: target classes tried per image, the most likely first
            (default ``min(9, K − 1)``); ``restarts`` random starts per target.
    """

    def __init__(self, model: nn.Module, eps=8 / 255, *, norm: str = "inf", n_targets: int | None = None,
                 steps: int = 100, restarts: int = 1, rho: float = 0.75, momentum: float = 0.75,
                 roi_mode: str = "inside", fuse_bn: bool = True, max_batch: int = 64) -> None:
        super().__init__(model, eps, norm=norm, loss="ce", steps=steps, restarts=restarts, rho=rho,
                         momentum=momentum, roi_mode=roi_mode, fuse_bn=fuse_bn, max_batch=max_batch)
        if n_targets is not None and int(n_targets) < 1:
            raise ConfigError(f"n_targets must be >= 1, got {n_targets}")
        self.n_targets = None if n_targets is None else int(n_targets)
        self.loss, self.name = "dlr-targeted", "apgd-t"

    def _check_classes(self, n_classes: int) -> None:
        check_dlr_classes(n_classes, targeted=True, who="APGD-T")

    def targets_for(self, n_classes: int) -> int:
        """How many target classes a model with ``n_classes`` classes gets."""
        return min(DEFAULT_TARGETS if self.n_targets is None else self.n_targets, n_classes - 1)

    def _perturb(self, batch: FlatBatch) -> Tensor:
        out, fooled, best = self._start_state(batch)
        ranking = batch.clean_logits.argsort(dim=1, descending=True)
        generators = child_generators(batch.generator, self.targets_for(batch.n_classes))
        for rank, generator in enumerate(generators, start=1):
            target = ranking[:, rank]
            self._restarts(batch.with_generator(generator),
                           lambda logits, index, target=target: targeted_dlr_loss(logits, batch.y[index], target[index]),
                           out, fooled, best)
        return out
