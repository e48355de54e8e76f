"""Brain-MRI-like phantom slices with three lesion kinds and exact ROIs.

NOT clinical data: a deterministic, offline stand-in for BraTS with the same
layout (3 channels ordered like the BraTS loader's T1ce, FLAIR, T2).  Each
synthetic patient has one lesion kind and several adjacent slices (the lesion
grows and shrinks through them).  The kinds differ only inside the lesion:

* ``ring-enhancing`` - bright enhancing rim with a dark necrotic core on T1ce;
* ``homogeneous`` - uniformly bright lesion;
* ``speckled`` - faint lesion with scattered bright foci on T1ce.

An optional spurious cue (``cue_kind``: a corner marker, a diffuse intensity
gradient or a background stripe texture; see :mod:`._cues`) can be tied to the
class (``cue="class"``) or drawn at random per patient (``cue="random"``).
"""

from __future__ import annotations

import numpy as np
import torch

from core.errors import ConfigError
from core.fewshot.data import FewShotData
from core.fewshot.datasets._canvas import ellipse, grid, smooth_noise
from core.fewshot.datasets._cues import apply_cue, check_cue, cue_level

__all__ = ["BRAIN_CLASSES", "brain_phantom"]

BRAIN_CLASSES = ["ring-enhancing", "homogeneous", "speckled"]

# Tissue intensities per channel (T1ce, FLAIR, T2): skull, brain, ventricles (CSF).
_SKULL = np.array([0.80, 0.30, 0.25])
_BRAIN = np.array([0.45, 0.42, 0.38])
_CSF = np.array([0.12, 0.08, 0.85])


def _slice(rng: np.random.Generator, y, x, size: int, kind: int, patient: dict, t: float) -> tuple[np.ndarray, np.ndarray]:
    head = ellipse(y, x, 0.0, 0.0, 0.92, 0.78, patient["angle"])
    img = np.zeros((3, size, size))
    skull = (head < 1.0) & (head >= 0.88)
    brain = head < 0.88
    texture = patient["texture"]
    for c in range(3):
        img[c][skull] = _SKULL[c]
        img[c][brain] = _BRAIN[c] + 0.05 * texture[brain]
    vscale = 0.8 + 0.4 * t
    for side in (-1, 1):
        vent = ellipse(y, x, -0.05, side * 0.11, 0.22 * vscale, 0.07 * vscale, side * 0.3 + patient["angle"])
        for c in range(3):
            img[c][vent < 1.0] = _CSF[c]
    # Lesion radius follows the slice position through the tumour.
    radius = patient["radius"] * (0.65 + 0.35 * np.sin(np.pi * (0.2 + 0.6 * t)))
    cy, cx = patient["centre"]
    rr = ellipse(y, x, cy, cx, radius, radius * patient["aspect"], patient["angle"])
    lesion = rr < 1.0
    contrast = patient["contrast"]
    if kind == 0:  # ring-enhancing: rim on T1ce, necrotic core
        rim = lesion & (rr >= 0.6)
        core = lesion & (rr < 0.6)
        img[0][rim] += 0.35 * contrast
        img[0][core] -= 0.15 * contrast
        img[1][lesion] += 0.20 * contrast
        img[2][lesion] += 0.22 * contrast
    elif kind == 1:  # homogeneous
        img[0][lesion] += 0.18 * contrast
        img[1][lesion] += 0.20 * contrast
        img[2][lesion] += 0.22 * contrast
    else:  # speckled: sparse bright foci
        foci = lesion & (rng.random((size, size)) < 0.3)
        img[0][lesion] += 0.05 * contrast
        img[0][foci] += 0.40 * contrast
        img[1][lesion] += 0.20 * contrast
        img[2][lesion] += 0.22 * contrast
    img += rng.normal(0.0, 0.035, img.shape)
    return np.clip(img, 0.0, 1.0), lesion


def brain_phantom(n_patients: int = 48, images_per_patient: int = 4, size: int = 64, seed: int = 0,
                  cue: str = "none", patient_prefix: str = "brain", cue_kind: str = "corner") -> FewShotData:
    """Generate brain phantom slices.

    Args:
        n_patients: patients, assigned to the 3 classes in turn.
        images_per_patient: adjacent slices per patient.
        size: image side in pixels (>= 32).
        seed: generator seed; the same arguments always give the same data.
        cue: spurious cue - ``"none"``, ``"class"`` (its level = the class) or
            ``"random"`` (a random level per patient).
        patient_prefix: prefix of the patient ids (keeps ids of separately
            generated sets distinct).
        cue_kind: ``"corner"`` (marker), ``"gradient"`` (diffuse) or
            ``"stripes"`` (textural); the images without the cue are the same
            for every kind and tie.

    Returns:
        :class:`FewShotData` with (N, 3, size, size) images, N = n_patients * images_per_patient.
    """
    check_cue(cue, cue_kind)
    if size < 32 or n_patients < 1 or images_per_patient < 1:
        raise ConfigError("the brain phantom needs size >= 32, at least one patient and one slice")
    rng = np.random.default_rng(seed)
    y, x = grid(size)
    images, masks, labels, groups = [], [], [], []
    for p in range(n_patients):
        kind = p % 3
        angle = rng.uniform(-0.25, 0.25)
        # Lesion centre inside the brain, away from the midline ventricles.
        side = rng.choice([-1, 1])
        patient = {
            "angle": angle,
            "texture": smooth_noise(rng, size, sigma=size / 24),
            "centre": (rng.uniform(-0.45, 0.45), side * rng.uniform(0.32, 0.5)),
            "radius": rng.uniform(0.17, 0.26),
            "aspect": rng.uniform(0.8, 1.2),
            "contrast": rng.uniform(0.7, 1.1),
        }
        level = cue_level(rng, cue, kind)
        for s in range(images_per_patient):
            t = (s + 0.5) / images_per_patient
            img, lesion = _slice(rng, y, x, size, kind, patient, t)
            if cue != "none":
                img = apply_cue(img, cue_kind, level, lesion)
            images.append(img.astype(np.float32))
            masks.append(lesion)
            labels.append(kind)
            groups.append(f"{patient_prefix}-{p:04d}")
    return FewShotData(torch.from_numpy(np.stack(images)), torch.tensor(labels),
                       torch.from_numpy(np.stack(masks)), groups, list(BRAIN_CLASSES),
                       {"dataset": "brain-phantom", "cue": cue, "cue_kind": cue_kind, "seed": seed,
                        "synthetic": True})
