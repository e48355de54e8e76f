"""Voxel-order bookkeeping: canonical RAS+ volumes and their display slices.

A volume is kept in the closest canonical RAS+ voxel order (the same
permutation and flips as ``nibabel.as_closest_canonical``): the first index
grows towards the patient's Right, the second towards Anterior, the third
towards Superior.  The orientation transform is kept so that a mask drawn on
the canonical volume can be written back in the source file's voxel order.

Display convention (neurological, as in FSLeyes/nilearn defaults; NOT
radiological):

- ``axial``    row 0 = most anterior, column 0 = patient's left
  (patient's right on the viewer's right), seen from above;
- ``coronal``  row 0 = most superior, column 0 = patient's left;
- ``sagittal`` row 0 = most superior, column 0 = most anterior
  (the face looks to the viewer's left).
"""

from __future__ import annotations

import numpy as np

from core.errors import ConfigError

__all__ = [
    "AXES",
    "axis_spacing",
    "canonicalize",
    "display_slice",
    "n_slices",
    "place_slice",
    "to_source_order",
]

AXES = ("axial", "coronal", "sagittal")
_FIXED = {"sagittal": 0, "coronal": 1, "axial": 2}


def _check_axis(axis: str) -> int:
    if axis not in _FIXED:
        raise ConfigError(f"unknown slice axis {axis!r}; use one of {', '.join(AXES)}")
    return _FIXED[axis]


def canonicalize(data: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reorder ``data`` to the closest canonical RAS+ voxel order.

    ``data``: (I, J, K) or (I, J, K, T) in the source voxel order; ``affine``:
    4x4 source voxel -> RAS+ mm.  Returns ``(canonical_data, canonical_affine,
    ornt)`` where ``ornt`` is nibabel's (3, 2) orientation array that took the
    source order to the canonical one (hand it to :func:`to_source_order`).
    Axis swaps and flips only: no resampling, so voxel values are unchanged.
    """
    from nibabel import orientations as no

    ornt = no.io_orientation(affine)
    canonical = no.apply_orientation(data, ornt)
    canonical_affine = affine @ no.inv_ornt_aff(ornt, data.shape[:3])
    return np.ascontiguousarray(canonical), canonical_affine, ornt


def to_source_order(canonical: np.ndarray, ornt: np.ndarray) -> np.ndarray:
    """Undo :func:`canonicalize`: (X, Y, Z[, ...]) canonical -> source voxel order."""
    from nibabel import orientations as no

    back = no.ornt_transform(no.axcodes2ornt(("R", "A", "S")), no.axcodes2ornt(no.ornt2axcodes(ornt)))
    return np.ascontiguousarray(no.apply_orientation(canonical, back))


def n_slices(shape: tuple[int, ...], axis: str) -> int:
    """How many ``axis`` slices a canonical volume of ``shape`` has."""
    return int(shape[_check_axis(axis)])


def _view(volume: np.ndarray, index: int, axis: str) -> np.ndarray:
    """A writeable (H, W) view of ``volume`` (X, Y, Z) in display order."""
    fixed = _check_axis(axis)
    size = volume.shape[fixed]
    if not -size <= index < size:
        raise ConfigError(f"{axis} slice {index} is out of range: the volume has {size} {axis} slices")
    if axis == "axial":
        return volume[:, ::-1, index].T
    if axis == "coronal":
        return volume[:, index, ::-1].T
    return volume[index, ::-1, ::-1].T


def display_slice(volume: np.ndarray, index: int, axis: str = "axial") -> np.ndarray:
    """Slice ``index`` of a canonical (X, Y, Z) volume, oriented for display.

    Returns (H, W): axial (Y, X), coronal (Z, X), sagittal (Z, Y); see the
    module docstring for which anatomical direction is up/right.
    """
    return np.ascontiguousarray(_view(volume, index, axis))


def place_slice(volume: np.ndarray, mask2d: np.ndarray, index: int, axis: str = "axial") -> None:
    """Write a display-oriented ``mask2d`` (H, W) into ``volume`` (X, Y, Z) in place.

    The exact inverse of :func:`display_slice`:
    ``display_slice(v, i, a) == m`` right after ``place_slice(v, m, i, a)``.
    """
    view = _view(volume, index, axis)
    mask2d = np.asarray(mask2d)
    if mask2d.shape != view.shape:
        raise ConfigError(f"{axis} mask has shape {mask2d.shape}, expected {view.shape} for this volume")
    view[...] = mask2d


def axis_spacing(zooms: tuple[float, float, float], axis: str) -> tuple[float, float]:
    """(row, column) pixel spacing in mm of an ``axis`` display slice.

    ``zooms``: canonical voxel sizes along (X, Y, Z).
    """
    x, y, z = zooms
    _check_axis(axis)
    return {"axial": (y, x), "coronal": (z, x), "sagittal": (z, y)}[axis]
