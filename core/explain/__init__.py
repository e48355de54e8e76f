"""Differentiable, batched class activation maps and explanation losses/metrics.

Public API::

    GradCAM(model, target_layer, create_graph=False)   # context manager; cam(x, targets) -> (B, H, W)
    GradCAMPlusPlus(model, target_layer, create_graph=False)
    ClassLogitTarget(classes)                            # callable: logits (B, K) -> (B,)
    PrototypeDistanceTarget(prototypes, labels, metric)  # callable: embeddings (B, D) -> (B,)
    soft_dice(p, g, eps) -> (B,)       soft_dice_loss(p, g, eps, reduction)
    rrr_penalty(x, log_probs, roi)     # Ross et al. input-gradient guidance
    cam_alignment(cam, roi, threshold) -> {"dice", "iou", "pointing", "energy"}: (B,) each
"""

from core.explain.base import BaseCAM, Target, TargetSpec, minmax_normalise
from core.explain.gradcam import GradCAM
from core.explain.gradcam_pp import GradCAMPlusPlus
from core.explain.losses import rrr_penalty, soft_dice, soft_dice_loss
from core.explain.metrics import ALIGNMENT_METRICS, cam_alignment
from core.explain.targets import ClassLogitTarget, PrototypeDistanceTarget

__all__ = [
    "BaseCAM", "Target", "TargetSpec", "minmax_normalise",
    "GradCAM", "GradCAMPlusPlus",
    "ClassLogitTarget", "PrototypeDistanceTarget",
    "soft_dice", "soft_dice_loss", "rrr_penalty",
    "cam_alignment", "ALIGNMENT_METRICS",
]
