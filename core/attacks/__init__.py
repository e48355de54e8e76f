"""Adversarial attacks in pixel space ``[0, 1]`` (normalisation lives inside the model).

Every attack is an :class:`Attack`: call it with ``(images (B, C, H, W), labels (B,))``
and get ``(B, C, H, W)`` adversarial images, or ``(E, B, C, H, W)`` for E values of ε
at once.  Optional ROI masks restrict the perturbation to inside or outside a region.

Worst-case evaluation uses :class:`AutoAttack` (APGD-CE, APGD-T, FAB-T, Square; per-image
worst case).  FGSM and fixed-step PGD are weak attacks, kept to compare with the literature.
"""

from core.attacks.apgd import APGD, APGD_LOSSES, APGD_NORMS
from core.attacks.apgdt import APGDT, DEFAULT_TARGETS
from core.attacks.autoattack import CLEAN, VERSIONS, AutoAttack, EnsembleResult
from core.attacks.base import Attack, LossFn
from core.attacks.batch import FlatBatch, child_generators
from core.attacks.checks import ProbabilityOutputWarning, check_logits_and_labels, looks_like_probabilities
from core.attacks.dlr import DLR_MIN_CLASSES, check_dlr_classes, dlr_loss, targeted_dlr_loss
from core.attacks.fab import FABT
from core.attacks.fab_projections import project_l2, project_linf
from core.attacks.fgsm import FGSM
from core.attacks.fusion import fold_batchnorm
from core.attacks.inputs import ROI_MODES, as_eps_tensor, check_eps_range, prepare_roi
from core.attacks.modes import eval_mode, frozen_eval
from core.attacks.pgd import PGD, PGD_NORMS
from core.attacks.square import Square, square_p_schedule
from core.attacks.transfer import Transfer
from core.attacks.factory import ATTACKS, make_attack, parse_eps_list

__all__ = [
    "Attack", "LossFn", "ROI_MODES", "frozen_eval", "eval_mode", "as_eps_tensor", "check_eps_range", "prepare_roi",
    "FlatBatch", "child_generators",
    "ProbabilityOutputWarning", "looks_like_probabilities", "check_logits_and_labels",
    "dlr_loss", "targeted_dlr_loss", "check_dlr_classes", "DLR_MIN_CLASSES",
    "FGSM", "PGD", "PGD_NORMS", "fold_batchnorm",
    "APGD", "APGD_LOSSES", "APGD_NORMS", "APGDT", "DEFAULT_TARGETS", "FABT", "project_linf", "project_l2",
    "Square", "square_p_schedule", "AutoAttack", "EnsembleResult", "VERSIONS", "CLEAN", "Transfer",
    "ATTACKS", "make_attack", "parse_eps_list",
]
