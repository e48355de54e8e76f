"""Pad to square, then resize images (bilinear) and masks (nearest) to one side length."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["square_resize"]


def square_resize(image: np.ndarray, mask: np.ndarray, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``image`` (C, H, W) float, ``mask`` (H, W) bool -> (C, size, size), (size, size).

    Zero padding keeps the aspect ratio; a mask pixel survives when at least
    half of its area is inside the ROI.
    """
    c, h, w = image.shape
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    img = np.zeros((c, side, side), np.float32)
    img[:, top:top + h, left:left + w] = image
    msk = np.zeros((side, side), np.float32)
    msk[top:top + h, left:left + w] = mask
    img_t = torch.from_numpy(img).unsqueeze(0)
    msk_t = torch.from_numpy(msk)[None, None]
    if side != size:
        img_t = F.interpolate(img_t, size=(size, size), mode="bilinear", align_corners=False, antialias=side > size)
        msk_t = F.interpolate(msk_t, size=(size, size), mode="bilinear", align_corners=False, antialias=side > size)
    return img_t[0].clamp(0, 1), msk_t[0, 0] >= 0.5
