"""Explanation drift: how much an attack moves the Grad-CAM of the clean prediction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from core.attacks.base import eval_mode
from core.errors import ConfigError

__all__ = ["DriftResult", "explanation_drift", "spearman_per_image"]


@dataclass
class DriftResult:
    """Per-image drift between clean and adversarial Grad-CAMs.

    ``dice_distance (B,)`` is ``1 − soft Dice`` of the two maps.  Soft Dice of
    a soft map with itself is ``Σp² / Σp < 1``, so even identical maps score
    above 0; ``self_distance (B,)`` (the clean map against itself) is that
    floor, reported alongside so drift can be read against it.
    ``spearman (B,)`` is the rank correlation of the pixels (1 = same ordering,
    NaN when a map is constant).  Both use the clean prediction as target.
    """

    dice_distance: np.ndarray
    spearman: np.ndarray
    target: np.ndarray
    self_distance: np.ndarray

    def to_dict(self) -> dict:
        return {
            "dice_distance_mean": float(np.mean(self.dice_distance)),
            "self_distance_mean": float(np.mean(self.self_distance)),
            "spearman_mean": float(np.nanmean(self.spearman)) if np.isfinite(self.spearman).any() else None,
            "n": int(self.dice_distance.size),
        }


def spearman_per_image(a: Tensor, b: Tensor) -> np.ndarray:
    """Spearman correlation of ``a`` and ``b`` (both ``(B, H, W)``) per image -> ``(B,)``."""
    from scipy.stats import rankdata

    a2 = a.detach().flatten(1).double().cpu().numpy()
    b2 = b.detach().flatten(1).double().cpu().numpy()
    out = np.full(a2.shape[0], np.nan)
    for i in range(a2.shape[0]):
        ra, rb = rankdata(a2[i]), rankdata(b2[i])
        if ra.std() > 0 and rb.std() > 0:
            out[i] = float(np.corrcoef(ra, rb)[0, 1])
    return out


def explanation_drift(model: nn.Module, clean: Tensor, adversarial: Tensor,
                      target_layer: nn.Module | None = None) -> DriftResult:
    """Grad-CAM drift between ``clean (B, C, H, W)`` and ``adversarial (B, C, H, W)``.

    ``target_layer`` defaults to ``model.cam_layer``.  The model runs in eval
    mode; its previous mode is restored.
    """
    from core.explain import ClassLogitTarget, GradCAM, soft_dice

    if clean.shape != adversarial.shape or clean.ndim != 4:
        raise ConfigError(f"clean and adversarial images must both be (B, C, H, W), got "
                          f"{tuple(clean.shape)} and {tuple(adversarial.shape)}")
    layer = target_layer if target_layer is not None else getattr(model, "cam_layer", None)
    if layer is None:
        raise ConfigError("the model has no cam_layer; pass target_layer")
    with eval_mode(model):
        with torch.no_grad():
            target = model(clean).argmax(dim=1)
        with GradCAM(model, layer) as cam:
            maps_clean = cam(clean, ClassLogitTarget(target)).detach()
            maps_adv = cam(adversarial, ClassLogitTarget(target)).detach()
    dice = soft_dice(maps_clean, maps_adv).cpu().numpy()
    floor = soft_dice(maps_clean, maps_clean).cpu().numpy()
    return DriftResult(1.0 - dice, spearman_per_image(maps_clean, maps_adv), target.cpu().numpy(), 1.0 - floor)
