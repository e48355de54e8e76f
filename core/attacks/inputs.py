"""Validation of what callers hand to an attack: ε, images, labels and ROI masks."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from core.errors import ConfigError

__all__ = ["ROI_MODES", "as_eps_tensor", "check_eps_range", "prepare_roi", "validate_images_labels"]

ROI_MODES = ("inside", "outside")

# Inputs produced by resampling can overshoot [0, 1] by rounding; tolerate that much.
_RANGE_TOL = 1e-5


def as_eps_tensor(eps: float | Sequence[float] | Tensor) -> tuple[Tensor, bool]:
    """ε as a 1-D float64 tensor plus whether the caller passed several values.

    Raises :class:`ConfigError` for negative, non-finite or empty ε.
    """
    batched = not isinstance(eps, (int, float)) and not (isinstance(eps, Tensor) and eps.ndim == 0)
    values = torch.as_tensor(eps, dtype=torch.float64).reshape(-1)
    if values.numel() == 0:
        raise ConfigError("eps needs at least one value")
    if not torch.isfinite(values).all() or (values < 0).any():
        raise ConfigError(f"eps must be finite and >= 0, got {values.tolist()}")
    return values, batched


def prepare_roi(roi: Tensor | None, images: Tensor, mode: str) -> Tensor | None:
    """The ``(B, 1, H, W)`` 0/1 mask of pixels the attack may change, or ``None``.

    ``roi`` is ``(H, W)``, ``(1, H, W)``, ``(1, 1, H, W)`` or ``(B, 1, H, W)``,
    boolean or numeric (non-zero = inside the region).  ``mode="inside"``
    allows changes inside the region only, ``"outside"`` outside it only.
    """
    if mode not in ROI_MODES:
        raise ConfigError(f"roi_mode must be one of {ROI_MODES}, got {mode!r}")
    if roi is None:
        return None
    roi = torch.as_tensor(roi)
    b, _, h, w = images.shape
    if roi.ndim == 2:
        roi = roi[None, None]
    elif roi.ndim == 3:
        roi = roi[:, None]
    if roi.ndim != 4 or roi.shape[1] != 1 or roi.shape[-2:] != (h, w) or roi.shape[0] not in (1, b):
        raise ConfigError(
            f"ROI mask must be (H, W) or (B, 1, H, W) matching images {tuple(images.shape)}, "
            f"got {tuple(roi.shape)}")
    inside = roi.to(images.device) != 0
    allowed = inside if mode == "inside" else ~inside
    return allowed.to(images.dtype).expand(b, 1, h, w)


def check_eps_range(eps: Tensor, norm: str, image_shape: Sequence[int]) -> None:
    """:class:`ConfigError` for ε beyond the diameter of the pixel cube ``[0, 1]^d`` in ``norm``.

    L∞ radii above 1 (pixel units) or L2 radii above ``√(C·H·W)`` allow every
    image; they are almost always ε given in the wrong units (e.g. 8 for 8/255).
    """
    top = 1.0 if norm == "inf" else math.sqrt(math.prod(image_shape))
    if eps.numel() and float(eps.max()) > top + 1e-9:
        unit = "[0, 1] (pixel units, e.g. 8/255)" if norm == "inf" else f"[0, {top:.4g}] (the L2 diameter of the image)"
        raise ConfigError(f"eps {float(eps.max()):.4g} is out of range for an L{norm} attack: it must lie in {unit}")


def validate_images_labels(images: Tensor, labels: Tensor, device: torch.device) -> tuple[Tensor, Tensor]:
    """``images (B, C, H, W)`` in ``[0, 1]`` and integer ``labels (B,) >= 0`` on ``device``, or :class:`ConfigError`."""
    if not isinstance(images, Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ConfigError(f"images must be a (B, C, H, W) tensor, got {shape}")
    if not images.is_floating_point():
        raise ConfigError(f"images must be float pixels in [0, 1], got dtype {images.dtype}")
    images = images.detach().to(device)
    if images.numel() and (images.min() < -_RANGE_TOL or images.max() > 1 + _RANGE_TOL
                           or not torch.isfinite(images).all()):
        raise ConfigError(
            f"images must lie in [0, 1] (pixel units; the model normalises), got range "
            f"[{images.min().item():.3g}, {images.max().item():.3g}]")
    images = images.clamp(0.0, 1.0)
    labels = torch.as_tensor(labels, device=device)
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ConfigError(f"labels must be ({images.shape[0]},), got {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise ConfigError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if labels.numel() and labels.min() < 0:
        raise ConfigError("labels must be >= 0")
    return images, labels.long()
