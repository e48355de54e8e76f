"""Medical and natural image loading: DICOM, NIfTI, PNG/JPEG/TIFF.

Everything starts with :func:`load_image`, which returns a
:class:`MedicalImage` (float32 modality units, frames and - for volumes - a
canonical RAS+ volume with display slices and mask write-back) or raises
:class:`~core.errors.LoadError`.  Windowing lives in :mod:`core.io.window`,
display orientation in :mod:`core.io.orientation`.
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
