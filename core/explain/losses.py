"""Explanation losses: soft Dice between a CAM and an ROI, and input-gradient guidance.

* :func:`soft_dice` / :func:`soft_dice_loss` - the MICCAI paper's explanation
  loss ``1 - (2 sum(p g) + eps) / (sum(p) + sum(g) + eps)`` with p the CAM in
  [0, 1] and g the binary ROI.
* :func:`cam_dice_loss` - the same loss for a CAM under any of
  :data:`core.explain.base.CAM_NORMALISATIONS`: maps that are distributions
  over pixels are first scaled to the ROI's area.
* :func:`rrr_penalty` - "right for the right reasons" (Ross et al., IJCAI
  2017): squared input gradients of the summed log-probabilities outside the
  ROI, a guidance baseline that needs no CAM.
"""

from __future__ import annotations

import torch

from core.errors import ConfigError
from core.explain.base import CAM_NORMALISATIONS, DISTRIBUTION_NORMALISATIONS

__all__ = ["soft_dice", "soft_dice_loss", "cam_dice_loss", "rrr_penalty"]


def _check_pair(p: torch.Tensor, g: torch.Tensor) -> None:
    if p.dim() != 3 or p.shape != g.shape:
        raise ConfigError(f"soft Dice needs two (B, H, W) tensors of one shape, got {tuple(p.shape)} and {tuple(g.shape)}")


def soft_dice(p: torch.Tensor, g: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Soft Dice coefficient per image.

    Args:
        p: (B, H, W) soft map in [0, 1] (e.g. a Grad-CAM).
        g: (B, H, W) binary or soft ROI mask.
        eps: smoothing added to numerator and denominator (an empty map and
            empty mask then score 1).

    Returns:
        (B,) coefficients in [0, 1]; differentiable in both arguments.
    """
    _check_pair(p, g)
    if eps < 0:
        raise ConfigError("the Dice smoothing eps must be >= 0")
    g = g.to(p.dtype)
    inter = (p * g).flatten(1).sum(1)
    total = p.flatten(1).sum(1) + g.flatten(1).sum(1)
    return (2 * inter + eps) / (total + eps)


def soft_dice_loss(p: torch.Tensor, g: torch.Tensor, eps: float = 1e-6, reduction: str = "mean") -> torch.Tensor:
    """``1 - soft_dice(p, g, eps)``; ``reduction`` is ``"mean"``, ``"sum"`` or ``"none"`` ((B,))."""
    loss = 1.0 - soft_dice(p, g, eps)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ConfigError(f"unknown reduction {reduction!r}; choose mean, sum or none")


def cam_dice_loss(maps: torch.Tensor, roi: torch.Tensor, normalisation: str = "minmax", eps: float = 1e-6,
                  reduction: str = "mean") -> torch.Tensor:
    """Soft-Dice explanation loss between CAMs normalised by ``normalisation`` and binary ROIs.

    ``minmax`` and ``sigmoid`` maps are soft masks in [0, 1] and enter
    :func:`soft_dice_loss` as they are.  ``sum`` and ``softmax`` maps are
    distributions over pixels (each sums to 1): a plain soft Dice against a
    mask of hundreds of pixels would be near 0 whatever the map, so they are
    first scaled to the ROI's area.  Soft Dice then equals the fraction of the
    map's mass inside the ROI (the ``energy`` alignment metric), and the loss
    is ``1 - mass inside``.

    Args:
        maps: (B, H, W) CAMs from ``GradCAM(..., normalise=normalisation)``.
        roi: (B, H, W) binary masks (each with at least one pixel).
    """
    if normalisation not in CAM_NORMALISATIONS:
        raise ConfigError(f"unknown CAM normalisation {normalisation!r}; choose one of {', '.join(CAM_NORMALISATIONS)}")
    _check_pair(maps, roi)
    roi = roi.to(maps.dtype)
    if normalisation in DISTRIBUTION_NORMALISATIONS:
        maps = maps * roi.flatten(1).sum(1).view(-1, 1, 1)
    return soft_dice_loss(maps, roi, eps=eps, reduction=reduction)


def rrr_penalty(x: torch.Tensor, log_probs: torch.Tensor, roi: torch.Tensor) -> torch.Tensor:
    """Mean squared input gradient outside the ROI (Ross et al.).

    Args:
        x: (B, C, H, W) input that ``log_probs`` was computed from (requires grad).
        log_probs: (B, n_classes) log-probabilities.
        roi: (B, H, W) binary mask; the penalty covers ``1 - roi``.

    Returns:
        scalar: sum over the gradient outside the ROI squared, averaged over images.
        Differentiable in the model parameters (double backpropagation).
    """
    if not x.requires_grad:
        raise ConfigError("rrr_penalty needs an input that requires grad")
    if roi.shape != (x.shape[0], *x.shape[-2:]):
        raise ConfigError("the ROI must be (B, H, W) matching the input")
    (grad,) = torch.autograd.grad(log_probs.sum(), x, create_graph=True)
    outside = (1.0 - roi.to(grad.dtype)).unsqueeze(1)
    return (outside * grad).pow(2).flatten(1).sum(1).mean()
