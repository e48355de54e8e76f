"""Sizing the drawing canvas for an image and turning the displayed plane into a background."""

from __future__ import annotations

import numpy as np

from core.roi import CanvasTransform

__all__ = ["fit_canvas", "background_image", "MAX_CANVAS_SIDE"]

MAX_CANVAS_SIDE = 640


def fit_canvas(shape: tuple[int, int], max_side: int = MAX_CANVAS_SIDE) -> tuple[int, int, CanvasTransform]:
    """``(width, height, transform)`` of a canvas showing an (H, W) image whole, aspect kept.

    Small images are enlarged (a 64x64 phantom fills the canvas, so ROIs can
    be drawn precisely); the transform is exact for the rounded canvas size.
    """
    height, width = int(shape[0]), int(shape[1])
    scale = max_side / max(height, width)
    canvas_w, canvas_h = max(1, round(width * scale)), max(1, round(height * scale))
    return canvas_w, canvas_h, CanvasTransform.fit((height, width), (canvas_w, canvas_h), "stretch")


def background_image(pixels: np.ndarray, canvas_size: tuple[int, int]):
    """A PIL RGB image of display pixels in [0, 1]; downsampled to the canvas when larger."""
    from PIL import Image

    arr = np.uint8(np.clip(np.nan_to_num(np.asarray(pixels, dtype=np.float32)), 0, 1) * 255 + 0.5)
    img = Image.fromarray(arr).convert("RGB")
    if img.width > canvas_size[0] or img.height > canvas_size[1]:
        img = img.resize(canvas_size, Image.Resampling.LANCZOS)
    return img
