"""Mask encoding for the store: 1-bit PNG.

A 1-bit PNG is lossless, deflate-compressed (a 512 x 512 ROI is typically
well under 2 kB), deterministic for the same mask, and opens in any viewer,
so the exported files are the very bytes kept in the database.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image

from core.errors import ConfigError, LoadError

__all__ = ["encode_mask", "encode_mask_8bit", "decode_mask", "mask_digest"]


def encode_mask(mask: np.ndarray) -> bytes:
    """Bool-like mask (H, W) (nonzero = inside) -> 1-bit PNG bytes."""
    m = np.asarray(mask)
    if m.ndim != 2 or m.shape[0] == 0 or m.shape[1] == 0:
        raise ConfigError(f"an ROI mask must be a non-empty 2-D (H, W) array, got shape {m.shape}")
    buf = io.BytesIO()
    Image.fromarray(m.astype(bool)).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def encode_mask_8bit(mask: np.ndarray) -> bytes:
    """Bool-like mask (H, W) -> 8-bit grayscale PNG with values 0/255 (for exports: every tool reads it)."""
    m = np.asarray(mask)
    if m.ndim != 2 or m.shape[0] == 0 or m.shape[1] == 0:
        raise ConfigError(f"an ROI mask must be a non-empty 2-D (H, W) array, got shape {m.shape}")
    buf = io.BytesIO()
    Image.fromarray(np.where(m.astype(bool), 255, 0).astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def decode_mask(data: bytes) -> np.ndarray:
    """PNG bytes (any bit depth; nonzero = inside) -> bool mask (H, W)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "PNG":
                raise LoadError(f"mask is a {img.format} file, expected PNG")
            arr = np.asarray(img.convert("L") if img.mode not in ("1", "L") else img)
    except LoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure means a damaged mask file
        raise LoadError(f"mask is not a readable PNG ({type(exc).__name__})") from exc
    return arr.astype(bool) if arr.dtype == bool else arr > 0


def mask_digest(png: bytes) -> str:
    """sha256 hex of the encoded mask bytes."""
    return hashlib.sha256(png).hexdigest()
