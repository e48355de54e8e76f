"""NIfTI sources keep NIfTI masks: one file per reader and label, in the source file's own affine."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from core.errors import EquiGuardError

__all__ = ["export_nifti_masks"]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text.strip()).strip("._")[:40] or "x"


def export_nifti_masks(path: Path, records: list, masks: dict, folder: Path) -> tuple[list[str], str | None]:
    """Write ``nifti/<file key>/<label>--<reader>.nii.gz`` for the volume planes ``records`` of ``path``.

    ``masks[image_id][reader][label]`` are the planes' (H, W) masks.  Returns
    the written paths (relative to ``folder``) and a note when the file could
    not be read as a volume.
    """
    from core.io import load_image

    try:
        image = load_image(path)
    except EquiGuardError as exc:
        return [], f"{len(records)} annotated plane(s): source not readable ({exc})"
    if not image.is_volume:
        return [], f"{len(records)} annotated plane(s) of a non-DICOM 2-D image: use the bundle export"
    volumes: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(image.spatial_shape, bool))
    for rec in records:
        for reader, labels in masks[rec.id].items():
            for label, mask in labels.items():
                volumes[(reader, label)] |= image.slices_to_volume({int(rec.slice_index): mask}, rec.axis)
    written = []
    key = records[0].sha256[:16]
    for (reader, label), volume in sorted(volumes.items()):
        rel = f"nifti/{key}/{_slug(label)}--{_slug(reader)}.nii.gz"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        image.save_mask_nifti(volume, folder / rel)
        written.append(rel)
    return written, None
