"""Explainers (differentiable CAMs and independent attributions), their checks, losses and metrics.

Public API::

    # every explainer: context manager; explain(x (B, C, H, W), targets) -> (B, H, W) maps
    Explainer(model, eval_mode=True)                     # base class: input check, device, eval mode, release
    GradCAM(model, target_layer, create_graph=False, eval_mode=False, normalise="minmax")  # [0, 1] maps, differentiable
    GradCAMPlusPlus(model, target_layer, create_graph=False, eval_mode=False)
    Occlusion(model, patch=8, stride=patch // 2, baseline=0.0)          # signed score drop
    IntegratedGradients(model, steps=32, baseline=0.0, method="gausslegendre")  # signed, .delta
    build_explainer(name, model, layer=None, **options); explainer_factory(name, ...) -> model -> explainer
    EXPLAINERS, INDEPENDENT_EXPLAINERS

    # targets: model output -> (B,) scores
    ClassLogitTarget(classes); ClassProbabilityTarget(classes)
    PrototypeDistanceTarget(prototypes, labels, metric)  # embeddings (B, D) -> (B,)

    # checks
    unit_maps(maps, sign="positive") -> (B, H, W) in [0, 1]
    cam_alignment(cam, roi, threshold) -> {"dice", "iou", "pointing", "energy"}: (B,) each
    randomisation_check(model, x, targets, explainers, seed, retarget) -> RandomisationResult
    cascading_randomisation(model, seed) -> (layer, randomised copy), ...
    deletion_insertion(model, x, maps, targets, steps, baseline, seed) -> FaithfulnessResult
    rank_correlation(a, b) -> (B,); ssim(a, b) -> (B,); average_ranks(values (B, N))

    # losses
    soft_dice(p, g, eps) -> (B,)       soft_dice_loss(p, g, eps, reduction)
    normalise_cam(raw, size, mode)     # CAM_NORMALISATIONS: minmax | sum | sigmoid | softmax
    cam_dice_loss(maps, roi, normalisation, eps)   # soft Dice for any normalisation
    rrr_penalty(x, log_probs, roi)     # Ross et al. input-gradient guidance
"""

from core.explain.base import (CAM_NORMALISATIONS, DISTRIBUTION_NORMALISATIONS, BaseCAM, Target, TargetSpec,
                               minmax_normalise, normalise_cam)
from core.explain.explainer import Explainer
from core.explain.faithfulness import FaithfulnessResult, deletion_insertion
from core.explain.gradcam import GradCAM
from core.explain.gradcam_pp import GradCAMPlusPlus
from core.explain.integrated_gradients import IG_METHODS, IntegratedGradients
from core.explain.losses import cam_dice_loss, rrr_penalty, soft_dice, soft_dice_loss
from core.explain.metrics import ALIGNMENT_METRICS, MAP_SIGNS, cam_alignment, unit_maps
from core.explain.occlusion import Occlusion
from core.explain.randomisation import (RandomisationResult, cascading_randomisation, randomisable_layers,
                                        randomisation_check)
from core.explain.registry import (EXPLAINERS, INDEPENDENT_EXPLAINERS, ExplainerFactory, build_explainer,
                                   explainer_factory)
from core.explain.similarity import average_ranks, rank_correlation, ssim
from core.explain.targets import ClassLogitTarget, ClassProbabilityTarget, PrototypeDistanceTarget

__all__ = [
    "BaseCAM", "Target", "TargetSpec", "minmax_normalise", "normalise_cam", "CAM_NORMALISATIONS",
    "DISTRIBUTION_NORMALISATIONS",
    "Explainer", "GradCAM", "GradCAMPlusPlus", "Occlusion", "IntegratedGradients", "IG_METHODS",
    "EXPLAINERS", "INDEPENDENT_EXPLAINERS", "ExplainerFactory", "build_explainer", "explainer_factory",
    "ClassLogitTarget", "ClassProbabilityTarget", "PrototypeDistanceTarget",
    "soft_dice", "soft_dice_loss", "cam_dice_loss", "rrr_penalty",
    "cam_alignment", "ALIGNMENT_METRICS", "unit_maps", "MAP_SIGNS",
    "RandomisationResult", "randomisation_check", "cascading_randomisation", "randomisable_layers",
    "FaithfulnessResult", "deletion_insertion",
    "rank_correlation", "average_ranks", "ssim",
]
