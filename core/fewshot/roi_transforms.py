"""Rotations and rescalings of query images together with their ROI masks (for robustness evaluations).

The images move by :func:`core.datasets.rotate_images` / :func:`core.datasets.rescale_images`;
each ROI moves by the very same call on its float mask, re-binarised at 0.5, so
image and ROI stay aligned (an image channel equal to the ROI thresholds to the moved ROI).
"""

from __future__ import annotations

import torch

__all__ = ["rotate_with_roi", "rescale_with_roi"]


def _mask_like(roi: torch.Tensor, fn) -> torch.Tensor:
    """(B, H, W) bool ROI moved by the image transform ``fn`` ((B, 1, H, W) float -> same), re-binarised at 0.5."""
    return fn(roi.float()[:, None])[:, 0] >= 0.5


def rotate_with_roi(x: torch.Tensor, roi: torch.Tensor,
                    angles: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate images (B, C, H, W) and their ROIs (B, H, W) together by ``angles`` degrees (counter-clockwise).

    ``angles`` is one angle for the batch or a (B,) tensor (one per image);
    multiples of 90° are exact permutations.
    """
    from core.datasets import rotate_images

    if not isinstance(angles, torch.Tensor) or angles.dim() == 0:
        a = float(angles)
        return rotate_images(x, a).clamp(0, 1), _mask_like(roi, lambda m: rotate_images(m, a))
    parts = [rotate_with_roi(x[i:i + 1], roi[i:i + 1], float(a)) for i, a in enumerate(angles.tolist())]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def rescale_with_roi(x: torch.Tensor, roi: torch.Tensor, factor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Zoom images (B, C, H, W) and ROIs (B, H, W) by ``factor`` about the centre, canvas size kept."""
    from core.datasets import rescale_images

    return rescale_images(x, factor).clamp(0, 1), _mask_like(roi, lambda m: rescale_images(m, factor))
