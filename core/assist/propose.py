"""Turn a model's Grad-CAM into a proposed ROI, and store it with its provenance.

:func:`cam_to_mask`: keep the pixels whose CAM reaches ``threshold`` (the
CAM is min-max normalised to [0, 1] per image), keep the largest
8-connected component, then smooth its outline (Gaussian blur of the
component, re-thresholded at one half, holes filled, the largest piece kept
again).  No proposal when nothing survives.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.assist.base import Assistant, plane_pixels
from core.errors import ConfigError

__all__ = ["cam_to_mask", "largest_component", "propose_roi"]

_EIGHT = np.ones((3, 3), bool)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of a bool (H, W) mask (ties: the first in scan order)."""
    labels, n = ndimage.label(np.asarray(mask, bool), structure=_EIGHT)
    if n == 0:
        return np.zeros_like(mask, dtype=bool)
    sizes = np.bincount(labels.ravel())[1:]
    return labels == (int(np.argmax(sizes)) + 1)


def cam_to_mask(cam: np.ndarray, threshold: float = 0.5, smooth_sigma: float = 1.5,
                min_area: int = 4) -> np.ndarray | None:
    """Proposed ROI (H, W) bool from a CAM (H, W) in [0, 1]; None if it is smaller than ``min_area`` pixels."""
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"the CAM threshold must lie strictly between 0 and 1, got {threshold}")
    if smooth_sigma < 0:
        raise ConfigError(f"the outline smoothing must be >= 0 pixels, got {smooth_sigma}")
    region = largest_component(np.asarray(cam) >= threshold)
    if smooth_sigma > 0 and region.any():
        region = ndimage.gaussian_filter(region.astype(np.float32), smooth_sigma) >= 0.5
        region = largest_component(ndimage.binary_fill_holes(region))
    return region if int(region.sum()) >= min_area else None


def propose_roi(store, image_id: int, assistant: Assistant, *, threshold: float = 0.5, smooth_sigma: float = 1.5,
                label: str | None = None):
    """Explain the image with ``assistant``, turn the CAM into an ROI and store it as a proposal.

    The proposal's label is ``label`` or the predicted class's name; its
    ``method`` records the explainer, target, threshold, smoothing, predicted
    class and probability.  Returns the stored :class:`~core.store.Proposal`,
    or None when the CAM gives no region.
    """
    rec = store.get_image(image_id)
    ((_, pixels),) = list(plane_pixels([rec]))
    (result,) = assistant.analyse([pixels])
    mask = cam_to_mask(result.cam, threshold, smooth_sigma)
    if mask is None:
        return None
    predicted = assistant.class_names[result.predicted]
    method = {"explainer": "gradcam", "model_kind": assistant.kind, "threshold": float(threshold),
              "smooth_sigma": float(smooth_sigma), "largest_component": True, "predicted": predicted,
              "probability": float(result.probabilities[result.predicted]), "margin": float(result.margin)}
    return store.add_proposal(image_id, label or predicted, mask, model=assistant.name,
                              model_sha256=assistant.sha256, method=method, score=float(result.margin))
