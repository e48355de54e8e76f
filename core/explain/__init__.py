"""Differentiable, batched class activation maps and explanation losses/metrics.

Public API::

    GradCAM(model, target_layer, create_graph=False)   # context manager; cam(x, targets) -> (B, H, W)
    GradCAMPlusPlus(model, target_layer, create_graph=False)
    ClassLogitTarget(classes)                            # callable: logits (B, K) -> (B,)
    PrototypeDistanceTarget(prototypes, labels, metric)  # callable: embeddings (B, D) -> (B,)
    soft_dice(p, g, eps) -> (B,)       soft_dice_loss(p, g, eps, reduction)
    normalise_cam(raw, size, mode)     # CAM_NORMALISATIONS: minmax | sum | sigmoid | softmax
    cam_dice_loss(maps, roi, normalisation, eps)   # soft Dice for any normalisation
    rrr_penalty(x, log_probs, roi)     # Ross et al. input-gradient guidance
    cam_alignment(cam, roi, threshold) -> {"dice", "iou", "pointing", "energy"}: (B,) each
"""

from core.explain.base import (CAM_NORMALISATIONS, DISTRIBUTION_NORMALISATIONS, BaseCAM, Target, TargetSpec,
                               minmax_normalise, normalise_cam)
from core.explain.gradcam import GradCAM
from core.explain.gradcam_pp import GradCAMPlusPlus
from core.explain.losses import cam_dice_loss, rrr_penalty, soft_dice, soft_dice_loss
from core.explain.metrics import ALIGNMENT_METRICS, cam_alignment
from core.explain.targets import ClassLogitTarget, PrototypeDistanceTarget

__all__ = [
    "BaseCAM", "Target", "TargetSpec", "minmax_normalise", "normalise_cam", "CAM_NORMALISATIONS",
    "DISTRIBUTION_NORMALISATIONS",
    "GradCAM", "GradCAMPlusPlus",
    "ClassLogitTarget", "PrototypeDistanceTarget",
    "soft_dice", "soft_dice_loss", "cam_dice_loss", "rrr_penalty",
    "cam_alignment", "ALIGNMENT_METRICS",
]
