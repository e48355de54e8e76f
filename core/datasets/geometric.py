"""Rotations and rescalings of image batches about the image centre, canvas size kept."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["rotate_images", "rescale_images"]


def rotate_images(x: torch.Tensor, angle: float) -> torch.Tensor:
    """Rotate (B, C, H, W) images counter-clockwise by ``angle`` degrees about the centre.

    Multiples of 90 degrees on square images are exact pixel permutations
    (``torch.rot90``); other angles use bilinear sampling with zeros outside.
    """
    quarter = angle / 90.0
    if x.shape[-1] == x.shape[-2] and abs(quarter - round(quarter)) < 1e-9:
        return torch.rot90(x, int(round(quarter)) % 4, dims=(2, 3))
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    h, w = x.shape[-2:]
    # affine_grid maps output coordinates (x right, y down, in [-1, 1]) to input
    # coordinates; a counter-clockwise image rotation samples the input at the
    # clockwise-rotated position.  The aspect terms keep pixels square.
    matrix = torch.tensor([[cos, -sin * h / w, 0.0], [sin * w / h, cos, 0.0]], dtype=x.dtype, device=x.device)
    grid = F.affine_grid(matrix.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rescale_images(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Zoom (B, C, H, W) images by ``factor`` about the centre, keeping H x W.

    factor > 1 zooms in (bilinear up-sampling, borders cropped); factor < 1
    zooms out (anti-aliased down-sampling, zeros around).
    """
    if factor <= 0:
        raise ValueError("rescale factor must be positive")
    h, w = x.shape[-2:]
    if abs(factor - 1.0) < 1e-9:
        return x.clone()
    if factor < 1.0:
        nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
        small = F.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
        top, left = (h - nh) // 2, (w - nw) // 2
        return F.pad(small, (left, w - nw - left, top, h - nh - top))
    matrix = torch.tensor([[1.0 / factor, 0.0, 0.0], [0.0, 1.0 / factor, 0.0]], dtype=x.dtype, device=x.device)
    grid = F.affine_grid(matrix.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
