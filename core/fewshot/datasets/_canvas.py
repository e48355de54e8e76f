"""Geometry helpers shared by the synthetic phantoms (not clinical data)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

__all__ = ["grid", "ellipse", "smooth_noise", "CORNERS", "stamp_marker"]

#: Corners a spurious scanner marker can occupy: (row, col) of its top-left pixel as fractions.
CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))


def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(y, x) pixel-centre coordinates in [-1, 1], each (size, size)."""
    c = (np.arange(size) + 0.5) / size * 2 - 1
    return np.meshgrid(c, c, indexing="ij")


def ellipse(y: np.ndarray, x: np.ndarray, cy: float, cx: float, ry: float, rx: float,
            angle: float = 0.0) -> np.ndarray:
    """Normalised radius: < 1 inside the (rotated) ellipse."""
    ca, sa = np.cos(angle), np.sin(angle)
    dy, dx = y - cy, x - cx
    u = ca * dx + sa * dy
    v = -sa * dx + ca * dy
    return np.sqrt((u / rx) ** 2 + (v / ry) ** 2)


def smooth_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Zero-mean, unit-std spatially correlated noise (size, size)."""
    field = gaussian_filter(rng.standard_normal((size, size)), sigma)
    return (field - field.mean()) / (field.std() + 1e-8)


def stamp_marker(img: np.ndarray, corner: int, size: int, value: float = 1.0) -> None:
    """Burn a square 'scanner marker' of ``size`` pixels into a corner of (C, H, W) ``img``."""
    h, w = img.shape[-2:]
    fy, fx = CORNERS[corner]
    margin = max(1, h // 32)
    y0 = margin if fy == 0 else h - margin - size
    x0 = margin if fx == 0 else w - margin - size
    img[..., y0:y0 + size, x0:x0 + size] = value
