"""Medical and natural image loading: DICOM, NIfTI, PNG/JPEG/TIFF.

Entry point::

    image = load_image(path_or_bytes, name=None, max_pixels=DEFAULT_MAX_PIXELS, include_phi=False)

returns a :class:`MedicalImage` or raises :class:`~core.errors.LoadError`
(nothing else) with a one-line message.  The format comes from the content
(:func:`detect_format`).

:class:`MedicalImage` (float32, modality units such as HU):

- frames: ``n_frames``, ``frame(i) -> (H, W) | (H, W, 3)``, ``render(i, window)``;
- volumes (``is_volume``): ``volume`` (X, Y, Z[, T]) in canonical RAS+,
  ``n_slices(axis)``, ``slice(i, axis, t) -> (H, W)`` (neurological display,
  see :mod:`core.io.orientation`), ``render(i, window, axis=...)``;
- masks back to the file: ``place_slice``, ``slices_to_volume -> (X, Y, Z) bool``,
  ``mask_to_source``, ``save_mask_nifti(mask, path)`` (source affine, atomic);
- ``spacing`` (row, col[, slice]) mm, ``affine``, ``default_window``,
  ``windows`` (from the file), de-identified ``metadata``.

Windowing: :class:`Window` (centre/width/VOI function or a :class:`VoiLut`),
``WINDOW_PRESETS``, :func:`auto_window`, :func:`apply_window`.
:func:`image_summary` is the JSON description ``inspect`` prints.
"""

from core.io.detect import FORMATS, detect_format
from core.io.image import MedicalImage, WindowSpec
from core.io.load import DEFAULT_MAX_PIXELS, load_image
from core.io.metadata import DICOM_PHI_ATTRIBUTES, DICOM_SAFE_ATTRIBUTES
from core.io.orientation import AXES
from core.io.summary import image_summary
from core.io.window import WINDOW_PRESETS, VoiLut, Window, apply_window, auto_window, preset_names

__all__ = [
    "AXES",
    "DEFAULT_MAX_PIXELS",
    "DICOM_PHI_ATTRIBUTES",
    "DICOM_SAFE_ATTRIBUTES",
    "FORMATS",
    "MedicalImage",
    "VoiLut",
    "WINDOW_PRESETS",
    "Window",
    "WindowSpec",
    "apply_window",
    "auto_window",
    "detect_format",
    "image_summary",
    "load_image",
    "preset_names",
]
