"""Chest-X-ray-like phantom images with three finding kinds and exact ROIs.

NOT clinical data: a deterministic, offline stand-in for VinDr-CXR (one
channel, air dark, bone bright).  Anatomy: body outline, two lung fields,
mediastinum/heart shadow and arching ribs.  Findings inside one lung:

* ``Nodule/Mass`` - a small round dense spot;
* ``Pulmonary fibrosis`` - a reticular (net-like) line pattern in a region;
* ``Lung Opacity`` - a smooth hazy density in a region.

Each synthetic patient has several studies (follow-ups) of the same finding.
The optional spurious cue (corner marker, diffuse gradient or background
stripes) works as in the brain phantom.
"""

from __future__ import annotations

import numpy as np
import torch

from core.errors import ConfigError
from core.fewshot.data import FewShotData
from core.fewshot.datasets._canvas import ellipse, grid, smooth_noise
from core.fewshot.datasets._cues import apply_cue, check_cue, cue_level

__all__ = ["CXR_CLASSES", "cxr_phantom"]

CXR_CLASSES = ["Nodule/Mass", "Pulmonary fibrosis", "Lung Opacity"]
_LUNGS = ((-0.05, -0.42, 0.58, 0.30), (-0.05, 0.42, 0.58, 0.30))  # cy, cx, ry, rx


def _anatomy(y, x, size: int, rng: np.random.Generator, texture: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    img = np.full((size, size), 0.04)
    body = ellipse(y, x, 0.05, 0.0, 0.98, 0.92) < 1.0
    img[body] = 0.55
    lungs = [ellipse(y, x, cy, cx, ry, rx) < 1.0 for cy, cx, ry, rx in _LUNGS]
    for lung in lungs:
        img[lung] = 0.22
    heart = ellipse(y, x, 0.28, 0.08, 0.32, 0.26) < 1.0
    img[heart] = 0.62
    spine = (np.abs(x) < 0.08) & body
    img[spine] = 0.68
    img[body] += 0.04 * texture[body]
    for k in range(7):
        y0 = -0.72 + 0.2 * k + rng.uniform(-0.02, 0.02)
        band = np.abs(y - (y0 + 0.22 * x ** 2)) < 0.035
        img[band & body & ~heart] += 0.16
    return img, lungs


def cxr_phantom(n_patients: int = 48, images_per_patient: int = 4, size: int = 64, seed: int = 0,
                cue: str = "none", patient_prefix: str = "cxr", cue_kind: str = "corner") -> FewShotData:
    """Generate chest-X-ray phantoms; arguments as :func:`brain_phantom` (1 channel)."""
    check_cue(cue, cue_kind)
    if size < 32 or n_patients < 1 or images_per_patient < 1:
        raise ConfigError("the CXR phantom needs size >= 32, at least one patient and one study")
    rng = np.random.default_rng(seed)
    y, x = grid(size)
    images, masks, labels, groups = [], [], [], []
    px = 2.0 / size
    for p in range(n_patients):
        kind = p % 3
        lung_i = int(rng.integers(0, 2))
        cy, cx, ry, rx = _LUNGS[lung_i]
        # Finding centre well inside the chosen lung.
        fy = cy + rng.uniform(-0.55, 0.45) * ry
        fx = cx + rng.uniform(-0.45, 0.45) * rx
        base_r = rng.uniform(3.0, 5.0) * px if kind == 0 else rng.uniform(8.0, 12.0) * px
        freq = rng.uniform(0.9, 1.3) * size / 6
        texture = smooth_noise(rng, size, sigma=size / 20)
        level = cue_level(rng, cue, kind)
        for s in range(images_per_patient):
            img, lungs = _anatomy(y, x, size, rng, texture)
            lung = lungs[lung_i]
            r = base_r * rng.uniform(0.85, 1.15)
            jy, jx = rng.normal(0, 1.0 * px, 2)
            rr = ellipse(y, x, fy + jy, fx + jx, r, r * rng.uniform(0.85, 1.15), rng.uniform(0, np.pi))
            region = (rr < 1.0) & lung
            if kind == 0:
                img[region] += 0.32
            elif kind == 1:
                phase = rng.uniform(0, 2 * np.pi, 2)
                lines = (np.abs(np.sin(freq * y + phase[0])) < 0.3) | (np.abs(np.sin(freq * x + phase[1])) < 0.3)
                img[region & lines] += 0.30
                img[region & ~lines] += 0.04
            else:
                img[region] += 0.14 + 0.06 * np.clip(1.0 - rr[region], 0.0, 1.0)
            img += rng.normal(0.0, 0.03, img.shape)
            img = np.clip(img, 0.0, 1.0)[None]
            if cue != "none":
                img = apply_cue(img, cue_kind, level, region)
            images.append(img.astype(np.float32))
            masks.append(region)
            labels.append(kind)
            groups.append(f"{patient_prefix}-{p:04d}")
    return FewShotData(torch.from_numpy(np.stack(images)), torch.tensor(labels),
                       torch.from_numpy(np.stack(masks)), groups, list(CXR_CLASSES),
                       {"dataset": "cxr-phantom", "cue": cue, "cue_kind": cue_kind, "seed": seed,
                        "synthetic": True})
