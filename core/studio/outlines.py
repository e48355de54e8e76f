"""Mask outlines drawn on display images (ROI on a Grad-CAM, each reader's ROI on an image)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["to_rgb8", "draw_outlines", "READER_COLORS"]

#: Distinct outline colours (RGB) for readers, in order (colour-blind-safe Okabe-Ito palette).
READER_COLORS = ((230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
                 (204, 121, 167), (255, 255, 255))


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) in [0, 1] -> (H, W, 3) uint8."""
    base = np.asarray(image, dtype=np.float32)
    if base.ndim == 2:
        base = np.repeat(base[..., None], 3, axis=-1)
    return np.uint8(np.clip(base[..., :3], 0, 1) * 255 + 0.5)


def draw_outlines(rgb: np.ndarray, outlines: Sequence[tuple[np.ndarray, tuple[int, int, int]]],
                  min_side: int = 256, thickness: int = 1) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 with each ``(mask (H, W) bool, colour)`` outlined on top.

    Images smaller than ``min_side`` are first enlarged by an integer factor
    (nearest neighbour), so that an outline is a thin line, not a third of the lesion.
    """
    import cv2

    out = np.ascontiguousarray(rgb)
    scale = max(1, min_side // max(out.shape[:2]))
    if scale > 1:
        out = cv2.resize(out, (out.shape[1] * scale, out.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
    out = np.ascontiguousarray(out)
    for mask, colour in outlines:
        m = cv2.resize(np.uint8(mask), (out.shape[1], out.shape[0]), interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in colour), thickness)
    return out
