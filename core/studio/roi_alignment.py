"""An image and its expert ROI moved together, and how well a CAM pair agrees with that ROI.

The Attack lab's rotation and scale sliders act on the image *and* its ROI
with one and the same resampling (:func:`transform_with_roi`), so the
alignment numbers are measured against the ROI where the lesion now is.  The
numbers themselves are :func:`core.explain.cam_alignment`'s.
"""

from __future__ import annotations

import numpy as np
import torch

from core.errors import ConfigError

__all__ = ["transform_with_roi", "alignment_pair", "ALIGNMENT_SHOWN"]

#: The alignment metrics the lab shows, with their display names.
ALIGNMENT_SHOWN: dict[str, str] = {"dice": "CAM–ROI Dice", "pointing": "pointing game"}


def transform_with_roi(x: torch.Tensor, roi: np.ndarray | torch.Tensor | None, rotation_deg: float = 0.0,
                       scale: float = 1.0) -> tuple[torch.Tensor, np.ndarray | None]:
    """Rotate (degrees, counter-clockwise) and rescale ``x`` (1, C, H, W) and its ROI (H, W) alike.

    The mask rides along as one more channel through
    :func:`core.studio.attack_lab.transform_input`, then is thresholded at
    0.5; 90° turns are exact permutations of both.  Returns
    ``(x', roi')`` with ``roi'`` (H, W) bool (None stays None).
    """
    from core.studio.attack_lab import transform_input

    if x.dim() != 4 or x.shape[0] != 1:
        raise ConfigError(f"expected one image as (1, C, H, W), got {tuple(x.shape)}")
    if roi is None:
        return transform_input(x, rotation_deg, scale), None
    mask = torch.as_tensor(np.asarray(roi), dtype=x.dtype)
    if tuple(mask.shape) != tuple(x.shape[-2:]):
        raise ConfigError(f"the ROI is {tuple(mask.shape)} but the image {tuple(x.shape[-2:])}")
    both = transform_input(torch.cat([x, (mask > 0.5).to(x.dtype)[None, None]], 1), rotation_deg, scale)
    return both[:, :-1].clamp(0.0, 1.0).contiguous(), (both[0, -1] >= 0.5).numpy()


def alignment_pair(cam_clean: torch.Tensor, cam_attacked: torch.Tensor,
                   roi: np.ndarray | torch.Tensor) -> dict[str, dict[str, float]]:
    """CAM–ROI agreement of a clean and an attacked map with one ROI.

    Args:
        cam_clean, cam_attacked: (H, W) maps in [0, 1].
        roi: (H, W) binary mask.

    Returns:
        ``{"clean": {metric: value}, "attacked": {metric: value}}`` for every
        key of :data:`ALIGNMENT_SHOWN` (soft Dice; pointing game 1 when the
        map's maximum lies inside the ROI, else 0).
    """
    from core.explain import cam_alignment

    mask = torch.as_tensor(np.asarray(roi)).bool()
    maps = torch.stack([torch.as_tensor(cam_clean).float(), torch.as_tensor(cam_attacked).float()])
    if mask.shape != maps.shape[1:]:
        raise ConfigError(f"the ROI is {tuple(mask.shape)} but the CAMs {tuple(maps.shape[1:])}")
    scores = cam_alignment(maps, mask.expand_as(maps))
    return {side: {m: float(scores[m][k]) for m in ALIGNMENT_SHOWN} for k, side in enumerate(("clean", "attacked"))}
