"""The Difference-of-Logits-Ratio loss (Croce & Hein, ICML 2020) and its targeted form.

Both are invariant to shifting and rescaling the logits, which is what makes
APGD-DLR robust to the logit-scaling kind of gradient masking that defeats
cross-entropy.  Larger values mean "closer to misclassified"; attacks maximise them.

* untargeted: ``−(z_y − max_{i≠y} z_i) / (z_π1 − z_π3)``: needs at least 3 classes;
* targeted:   ``−(z_y − z_t) / (z_π1 − (z_π3 + z_π4) / 2)``: needs at least 4 classes,

where ``z_π1 ≥ z_π2 ≥ …`` are the sorted logits.
"""

from __future__ import annotations

from torch import Tensor

from core.errors import ConfigError

__all__ = ["dlr_loss", "targeted_dlr_loss", "check_dlr_classes", "DLR_MIN_CLASSES"]

#: Fewest classes each form is defined for (the denominator needs π3, resp. π4).
DLR_MIN_CLASSES = {"untargeted": 3, "targeted": 4}

_TINY = 1e-12


def check_dlr_classes(n_classes: int, targeted: bool, who: str = "the DLR loss") -> None:
    """:class:`ConfigError` when ``n_classes`` is too few for the (targeted) DLR loss."""
    kind = "targeted" if targeted else "untargeted"
    need = DLR_MIN_CLASSES[kind]
    if n_classes < need:
        raise ConfigError(
            f"{who} uses the {kind} DLR loss, which needs at least {need} classes "
            f"(untargeted DLR needs 3, targeted DLR needs 4); this model has {n_classes}")


def dlr_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Untargeted DLR of ``logits (N, K)`` for true classes ``y (N,)`` -> ``(N,)``."""
    ordered = logits.sort(dim=1, descending=True).values
    z_y = logits.gather(1, y[:, None])[:, 0]
    top_is_y = logits.argmax(dim=1) == y
    best_other = ordered[:, 1].where(top_is_y, ordered[:, 0])
    return -(z_y - best_other) / (ordered[:, 0] - ordered[:, 2] + _TINY)


def targeted_dlr_loss(logits: Tensor, y: Tensor, target: Tensor) -> Tensor:
    """Targeted DLR of ``logits (N, K)``, true classes ``y (N,)``, targets ``target (N,)`` -> ``(N,)``."""
    ordered = logits.sort(dim=1, descending=True).values
    z_y = logits.gather(1, y[:, None])[:, 0]
    z_t = logits.gather(1, target[:, None])[:, 0]
    return -(z_y - z_t) / (ordered[:, 0] - 0.5 * (ordered[:, 2] + ordered[:, 3]) + _TINY)
