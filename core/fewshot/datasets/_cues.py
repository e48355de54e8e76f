"""Spurious cues for the synthetic phantoms: what they look like and how they follow the class.

A cue has a *kind* (its appearance) and a *level* 0, 1 or 2.  In training
patients the level is the class (``tie="class"``), so the cue predicts the
label perfectly; in test patients it is drawn at random (``tie="random"``),
so a model that learned the cue instead of the lesion falls to chance.  The
level is drawn once per patient, so every image of a patient shares it.

Kinds, each of a different nature:

* ``corner`` - local: a bright square "scanner marker" in corner ``level``
  (outside the anatomy).
* ``gradient`` - diffuse: a multiplicative intensity ramp over the whole image
  (MRI bias field, X-ray heel effect) whose direction is ``level`` x 120
  degrees; it covers the lesion too, so no region of the image is free of it.
* ``stripes`` - textural: faint stripes at ``level`` x 60 degrees over every
  pixel outside the ROI, like a vendor's background texture.

Cues are drawn on top of the finished image, so an image with a cue equals
the cue-free image of the same seed plus the cue (up to clipping to [0, 1]).
"""

from __future__ import annotations

import numpy as np

from core.errors import ConfigError
from core.fewshot.datasets._canvas import stamp_marker

__all__ = ["CUE_KINDS", "CUE_TIES", "N_LEVELS", "check_cue", "cue_level", "apply_cue", "cue_pattern"]

CUE_KINDS = ("corner", "gradient", "stripes")
CUE_TIES = ("none", "class", "random")
N_LEVELS = 3
_GRADIENT_GAIN = 0.35   # +- relative intensity change at the image edge
_STRIPE_AMPLITUDE = 0.10
_STRIPE_PERIOD = 8.0    # pixels at 64x64; scales with the image


def check_cue(tie: str, kind: str) -> None:
    """ConfigError unless ``tie`` is in :data:`CUE_TIES` and ``kind`` in :data:`CUE_KINDS`."""
    if tie not in CUE_TIES:
        raise ConfigError(f"unknown cue {tie!r}; choose one of {', '.join(CUE_TIES)}")
    if kind not in CUE_KINDS:
        raise ConfigError(f"unknown cue kind {kind!r}; choose one of {', '.join(CUE_KINDS)}")


def cue_level(rng: np.random.Generator, tie: str, label: int) -> int:
    """The patient's cue level; always one draw from ``rng`` so cue-free data stay the same."""
    drawn = int(rng.integers(0, N_LEVELS))
    return label if tie == "class" else drawn


def cue_pattern(kind: str, level: int, size: int) -> np.ndarray:
    """The (size, size) pattern of a ``gradient`` (relative gain - 1) or ``stripes`` (additive) cue."""
    c = (np.arange(size) + 0.5) / size * 2 - 1
    y, x = np.meshgrid(c, c, indexing="ij")
    if kind == "gradient":
        angle = 2 * np.pi * level / N_LEVELS
        return _GRADIENT_GAIN * (np.cos(angle) * x + np.sin(angle) * y) / np.sqrt(2)
    if kind == "stripes":
        angle = np.pi * level / N_LEVELS
        period = _STRIPE_PERIOD / 64 * 2  # in grid units ([-1, 1] spans the image)
        phase = 2 * np.pi * (np.cos(angle) * x + np.sin(angle) * y) / period
        return _STRIPE_AMPLITUDE * 0.5 * (1 + np.sin(phase))
    raise ConfigError(f"the {kind!r} cue has no pattern")


def apply_cue(img: np.ndarray, kind: str, level: int, roi: np.ndarray) -> np.ndarray:
    """(C, H, W) image in [0, 1] with the cue of ``kind``/``level`` drawn in (a new array, clipped)."""
    out = img.copy()
    size = img.shape[-1]
    if kind == "corner":
        stamp_marker(out, level, max(3, size // 12))
        return out
    pattern = cue_pattern(kind, level, size)
    if kind == "gradient":
        out *= 1.0 + pattern
    else:
        out += np.where(roi, 0.0, pattern)
    return np.clip(out, 0.0, 1.0)
