"""A JSON-ready summary of a loaded image, shared by ``inspect`` and the studio."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.io.image import MedicalImage, WindowSpec
from core.io.orientation import AXES

__all__ = ["image_summary"]


def image_summary(image: MedicalImage, window_spec: WindowSpec = "default") -> dict[str, Any]:
    """A JSON-ready description of ``image``: what ``inspect`` prints and the studio shows."""
    window = image.resolve_window(window_spec)
    values = image.pixels
    summary = {
        "name": image.name,
        "format": image.format,
        "modality": image.modality,
        "photometric": image.photometric,
        "shape": list(image.shape),
        "n_frames": image.n_frames,
        "frame_shape": list(image.frame_shape),
        "spacing_mm": [round(float(s), 6) for s in image.spacing],
        "value_range": [float(np.min(values)), float(np.max(values))],
        "window": {"name": window.name, "center": window.center, "width": window.width,
                   "function": window.function, "lut": window.lut is not None},
        "file_windows": [w.describe() for w in image.windows],
        "metadata": dict(image.metadata),
    }
    if image.is_volume:
        summary["volume"] = {
            "canonical_shape": list(image.volume.shape),
            "orientation": "RAS+ (closest canonical)",
            "voxel_mm": [round(z, 6) for z in image.zooms],
            "slices": {axis: image.n_slices(axis) for axis in AXES},
            "affine": np.round(image.affine, 6).tolist(),
        }
    return summary
