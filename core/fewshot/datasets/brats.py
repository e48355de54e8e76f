"""BraTS folders -> labelled axial slices with the tumour-class ROI.

Layout: one folder per case holding ``<case>_t1ce``, ``<case>_flair``,
``<case>_t2`` and ``<case>_seg`` as ``.nii`` or ``.nii.gz`` (``_t1`` may be
there and is not used).  Volumes go through :func:`core.io.load_image`, which
reorients every file of a case to the same canonical frame, so images and
segmentation stay aligned even when their headers differ in voxel order.

Per axial slice with at least ``min_voxels`` tumour voxels: class = the
dominant label (1 necrotic core, 2 oedema, 4 enhancing - BraTS 2023's label 3
counts as enhancing), ROI = that label's pixels, channels T1ce/FLAIR/T2 each
min-max normalised per slice.  The patient id is the case folder name.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from core.errors import LoadError
from core.fewshot.data import FewShotData
from core.fewshot.datasets._resize import square_resize
from core.progress import ProgressCallback, ProgressEvent

__all__ = ["BRATS_CLASSES", "BRATS_MODALITIES", "load_brats", "find_brats_cases"]

BRATS_CLASSES = ["necrotic core (1)", "oedema (2)", "enhancing tumour (4)"]
BRATS_MODALITIES = ("t1ce", "flair", "t2")
_LABEL_TO_CLASS = {1: 0, 2: 1, 4: 2, 3: 2}


def _find(case: Path, key: str) -> Path | None:
    pattern = re.compile(rf"_{key}\.nii(\.gz)?$", re.IGNORECASE)
    hits = sorted(p for p in case.iterdir() if p.is_file() and pattern.search(p.name))
    if len(hits) > 1:
        raise LoadError(f"case {case.name}: several {key} volumes ({', '.join(p.name for p in hits)})")
    return hits[0] if hits else None


def find_brats_cases(root: str | Path) -> list[Path]:
    """Case folders (sorted) under ``root``: sub-folders that contain a ``*_seg.nii[.gz]``."""
    root = Path(root)
    if not root.is_dir():
        raise LoadError(f"BraTS folder not found: {root}")
    cases = sorted(p for p in root.iterdir() if p.is_dir() and _find(p, "seg") is not None)
    if not cases:
        raise LoadError(f"{root} holds no BraTS case folders (sub-folders with a *_seg.nii or *_seg.nii.gz)")
    return cases


def _normalise(plane: np.ndarray) -> np.ndarray:
    lo, hi = float(plane.min()), float(plane.max())
    return (plane - lo) / (hi - lo) if hi > lo else np.zeros_like(plane)


def load_brats(root: str | Path, size: int = 128, min_voxels: int = 100, max_cases: int | None = None,
               progress: ProgressCallback | None = None) -> FewShotData:
    """Load BraTS cases under ``root``; returns slices resized to (size, size), 3 channels."""
    from core.io import load_image

    cases = find_brats_cases(root)[: max_cases or None]
    images, masks, labels, groups, skipped = [], [], [], [], []
    for n, case in enumerate(cases, start=1):
        paths = {}
        for key in (*BRATS_MODALITIES, "seg"):
            path = _find(case, key)
            if path is None:
                raise LoadError(f"case {case.name}: missing the {key} volume (expected *_{key}.nii or *_{key}.nii.gz)")
            paths[key] = path
        vols = {key: load_image(path) for key, path in paths.items()}
        for key, img in vols.items():
            if not img.is_volume:
                raise LoadError(f"case {case.name}: {paths[key].name} is not a 3-D volume")
        shapes = {key: img.spatial_shape for key, img in vols.items()}
        if len(set(shapes.values())) != 1:
            raise LoadError(f"case {case.name}: volumes differ in shape ({', '.join(f'{k} {v}' for k, v in shapes.items())})")
        seg_vol = np.rint(vols["seg"].volume).astype(np.int64)
        if seg_vol.ndim != 3:
            raise LoadError(f"case {case.name}: the segmentation must be a single 3-D volume")
        bad = sorted(set(np.unique(seg_vol).tolist()) - {0, 1, 2, 3, 4})
        if bad:
            raise LoadError(f"case {case.name}: segmentation has labels {bad}; BraTS uses 0, 1, 2, 4 (or 3)")
        if not (seg_vol > 0).any():
            raise LoadError(f"case {case.name}: the segmentation is empty (no tumour voxels)")
        kept = 0
        seg_img = vols["seg"]
        for z in range(seg_img.n_slices("axial")):
            seg = np.rint(seg_img.slice(z, "axial")).astype(np.int64)
            if int((seg > 0).sum()) < min_voxels:
                continue
            counts = {cls: int(np.isin(seg, [lab for lab, c in _LABEL_TO_CLASS.items() if c == cls]).sum())
                      for cls in range(3)}
            cls = max(counts, key=lambda c: (counts[c], -c))
            roi = np.isin(seg, [lab for lab, c in _LABEL_TO_CLASS.items() if c == cls])
            planes = np.stack([_normalise(vols[key].slice(z, "axial").astype(np.float32)) for key in BRATS_MODALITIES])
            img_t, roi_t = square_resize(planes, roi, size)
            images.append(img_t)
            masks.append(roi_t)
            labels.append(cls)
            groups.append(case.name)
            kept += 1
        if not kept:
            skipped.append(case.name)
        if progress is not None:
            progress(ProgressEvent("load", n, len(cases), message=case.name))
    if not images:
        raise LoadError(f"no axial slice with at least {min_voxels} tumour voxels in {len(cases)} case(s)")
    return FewShotData(torch.stack(images), torch.tensor(labels), torch.stack(masks), groups, list(BRATS_CLASSES),
                       {"dataset": "brats", "root": str(root), "skipped_cases": skipped, "synthetic": False})
