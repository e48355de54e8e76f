"""Display conventions: radiological vs neurological, as a view transform only.

:mod:`core.io` gives volume slices in the *neurological* display (axial and
coronal: patient's left at column 0, i.e. the patient's right on the
viewer's right).  Radiologists read in the *radiological* convention, the
mirror image.  The viewer flips the displayed plane horizontally for that;
ROIs stay in the plane's image pixel coordinates exactly as drawn, so the
same stored mask is shown correctly in both conventions.

Sagittal slices, 2-D images (radiographs are stored as they are meant to be
seen) and frames of a multi-frame file are never flipped.
"""

from __future__ import annotations

from core.errors import ConfigError

__all__ = ["CONVENTIONS", "DEFAULT_CONVENTION", "display_flip", "orientation_labels", "describe_convention"]

CONVENTIONS = ("radiological", "neurological")
DEFAULT_CONVENTION = "radiological"

# Edge labels of core.io's (neurological) display slices: left, right, top, bottom.
_NEURO = {"axial": ("L", "R", "A", "P"), "coronal": ("L", "R", "S", "I"), "sagittal": ("A", "P", "S", "I")}


def _check(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ConfigError(f"display convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    return convention


def display_flip(axis: str | None, convention: str = DEFAULT_CONVENTION) -> bool:
    """Whether the plane is mirrored left-right on screen: radiological axial/coronal volume slices."""
    _check(convention)
    return convention == "radiological" and axis in ("axial", "coronal")


def orientation_labels(axis: str | None, convention: str = DEFAULT_CONVENTION) -> dict[str, str] | None:
    """Patient-direction letters at the screen's edges (``left``, ``right``, ``top``, ``bottom``), or None for 2-D."""
    if axis is None:
        _check(convention)
        return None
    if axis not in _NEURO:
        raise ConfigError(f"unknown axis {axis!r}")
    left, right, top, bottom = _NEURO[axis]
    if display_flip(axis, convention):
        left, right = right, left
    return {"left": left, "right": right, "top": top, "bottom": bottom}


def describe_convention(axis: str | None, convention: str = DEFAULT_CONVENTION) -> str:
    """One line for the UI saying which convention is shown."""
    if axis is None:
        return "2-D image shown as stored"
    if axis == "sagittal":
        return f"{convention} (sagittal: anterior on the left in both)"
    side = "left" if display_flip(axis, convention) else "right"
    return f"{convention}: patient's right on the screen's {side}"
