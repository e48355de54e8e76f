"""How well a CAM agrees with a binary ROI: soft Dice, IoU, pointing game, energy inside.

Signed attribution maps (occlusion, Integrated Gradients) first go through
:func:`unit_maps` (positive part, divided by the maximum).
"""

from __future__ import annotations

import torch

from core.errors import ConfigError
from core.explain.losses import soft_dice

__all__ = ["cam_alignment", "ALIGNMENT_METRICS", "unit_maps", "MAP_SIGNS"]

ALIGNMENT_METRICS = ("dice", "iou", "pointing", "energy")
MAP_SIGNS = ("positive", "abs")


def cam_alignment(cam: torch.Tensor, roi: torch.Tensor, threshold: float = 0.5,
                  eps: float = 1e-6) -> dict[str, torch.Tensor]:
    """Per-image agreement between maps and ROIs.

    Args:
        cam: (B, H, W) maps in [0, 1].
        roi: (B, H, W) binary masks.
        threshold: CAM level above which a pixel counts as highlighted (IoU).
        eps: Dice smoothing.

    Returns:
        dict of (B,) float tensors (detached):
        ``dice`` soft Dice; ``iou`` IoU of ``cam >= threshold`` with the ROI
        (1 when both are empty); ``pointing`` 1 if the CAM's maximum lies in the
        ROI; ``energy`` fraction of the CAM's mass inside the ROI (0 for an
        all-zero CAM).
    """
    if cam.dim() != 3 or cam.shape != roi.shape:
        raise ConfigError(f"cam and roi must both be (B, H, W), got {tuple(cam.shape)} and {tuple(roi.shape)}")
    cam = cam.detach().float()
    g = roi.detach().bool()
    dice = soft_dice(cam, g.float(), eps)
    hot = cam >= threshold
    inter = (hot & g).flatten(1).sum(1).float()
    union = (hot | g).flatten(1).sum(1).float()
    iou = torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))
    flat = cam.flatten(1)
    pointing = g.flatten(1).gather(1, flat.argmax(1, keepdim=True)).squeeze(1).float()
    mass = flat.sum(1)
    energy = torch.where(mass > 0, (flat * g.flatten(1)).sum(1) / mass.clamp_min(1e-12), torch.zeros_like(mass))
    return {"dice": dice, "iou": iou, "pointing": pointing, "energy": energy}


def unit_maps(maps: torch.Tensor, sign: str = "positive") -> torch.Tensor:
    """Turn raw explanation maps (B, H, W) into [0, 1] maps for :func:`cam_alignment`.

    ``sign="positive"`` (default) keeps the evidence *for* the target, the
    positive part ``max(m, 0)``, as Grad-CAM's ReLU does; ``"abs"`` keeps
    ``|m|`` (evidence either way).  Each map is then divided by its maximum;
    an all-zero map stays zero.  A Grad-CAM map (already >= 0 with maximum 1)
    is returned unchanged.
    """
    if maps.dim() != 3:
        raise ConfigError(f"maps must be (B, H, W), got {tuple(maps.shape)}")
    if sign not in MAP_SIGNS:
        raise ConfigError(f"unknown sign handling {sign!r}; choose one of {', '.join(MAP_SIGNS)}")
    kept = maps.detach().float()
    kept = kept.clamp_min(0) if sign == "positive" else kept.abs()
    peak = kept.flatten(1).amax(1).view(-1, 1, 1)
    return kept / torch.where(peak > 0, peak, torch.ones_like(peak))
