"""Adversarial attacks in pixel space ``[0, 1]`` (normalisation lives inside the model).

Every attack is an :class:`Attack`: call it with ``(images (B, C, H, W), labels (B,))``
and get ``(B, C, H, W)`` adversarial images, or ``(E, B, C, H, W)`` for E values of ε
at once.  Optional ROI masks restrict the perturbation to inside or outside a region.
"""

from core.attacks.base import (ROI_MODES, Attack, LossFn, as_eps_tensor, eval_mode, frozen_eval,
                               prepare_roi)
from core.attacks.fgsm import FGSM
from core.attacks.fusion import fold_batchnorm
from core.attacks.pgd import PGD, PGD_NORMS
from core.attacks.factory import ATTACKS, make_attack, parse_eps_list

__all__ = [
    "Attack", "LossFn", "ROI_MODES", "frozen_eval", "eval_mode", "as_eps_tensor", "prepare_roi",
    "FGSM", "PGD", "PGD_NORMS", "fold_batchnorm",
    "ATTACKS", "make_attack", "parse_eps_list",
]
