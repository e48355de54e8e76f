"""``load_image``: the single entry point, and the single error boundary.

Whatever the input - a path, a browser upload's bytes, a damaged or hostile
file - the caller gets a :class:`~core.io.image.MedicalImage` or exactly one
:class:`~core.errors.LoadError` with a one-line message; no other exception
leaves this function.  The message starts with the file's base name and
never quotes a library's own message (those can echo the file's bytes).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from core.errors import LoadError
from core.io.detect import detect_format
from core.io.image import MedicalImage

__all__ = ["DEFAULT_MAX_PIXELS", "load_image"]

#: 2**28 pixels/voxels (about 1 GiB as float32): several whole-body CTs or a
#: long fMRI run; anything larger is refused before it is decoded.
DEFAULT_MAX_PIXELS = 2**28

# Stored bytes per pixel never exceed 8 (float64) plus headers, so a file far
# larger than the pixel limit allows cannot be a valid image within it.
_MAX_BYTES_PER_PIXEL = 8
_HEADER_SLACK = 64 * 2**20

_NAMES = {"dicom": "DICOM", "nifti1": "NIfTI-1", "nifti2": "NIfTI-2", "nifti1-pair": "NIfTI-1 header",
          "png": "PNG", "jpeg": "JPEG", "tiff": "TIFF"}


def _read(source: str | os.PathLike | bytes, max_pixels: int) -> tuple[bytes, Path | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    path = Path(source).expanduser()
    if path.is_dir():
        raise LoadError("is a folder, not an image file; pass one DICOM/NIfTI/PNG/JPEG/TIFF file")
    if not path.exists():
        raise LoadError("file not found")
    if path.suffix.lower() == ".img" and path.with_suffix(".hdr").is_file():
        path = path.with_suffix(".hdr")  # the header of an Analyze-style pair names the format
    size = path.stat().st_size
    if size > max_pixels * _MAX_BYTES_PER_PIXEL + _HEADER_SLACK:
        raise LoadError(f"file is {size / 2**20:,.0f} MiB, too large for the pixel limit of {max_pixels:,}")
    with open(path, "rb") as fh:
        return fh.read(), path


def _dispatch(data: bytes, kind: str, path: Path | None, max_pixels: int, include_phi: bool,
              name: str | None) -> MedicalImage:
    options = dict(max_pixels=max_pixels, include_phi=include_phi, name=name)
    if kind == "dicom":
        from core.io.dicom import load_dicom

        return load_dicom(data, **options)
    if kind in ("nifti1", "nifti2"):
        from core.io.nifti import load_nifti

        return load_nifti(data, kind, **options)
    if kind == "nifti1-pair":
        if path is None:
            raise LoadError("a NIfTI .hdr header needs its .img file; upload a single-file .nii or .nii.gz instead")
        from core.io.nifti import load_nifti_pair

        return load_nifti_pair(path, **options)
    from core.io.raster import load_raster

    return load_raster(data, kind, **options)


def load_image(source: str | os.PathLike | bytes, *, name: str | None = None,
               max_pixels: int = DEFAULT_MAX_PIXELS, include_phi: bool = False) -> MedicalImage:
    """Load a DICOM, NIfTI (.nii/.nii.gz/.hdr+.img), PNG, JPEG or TIFF image.

    ``source`` is a path or the file's bytes (browser uploads); ``name`` labels
    messages and the image (default: the file name).  The format is detected
    from the content.  ``max_pixels`` bounds rows x columns x frames (or the
    voxel count), checked from the header before anything is decoded.
    DICOM metadata is de-identified unless ``include_phi``.

    Raises :class:`LoadError` - and nothing else - for any unreadable input.
    """
    if isinstance(source, (str, os.PathLike)) and name is None:
        name = Path(source).name
    label = Path(name).name if name else "upload"
    kind = "unknown"
    try:
        data, path = _read(source, max_pixels)
        if not data:
            raise LoadError("the file is empty")
        kind = detect_format(data)
        if kind == "unknown":
            raise LoadError("not a DICOM, NIfTI, PNG, JPEG or TIFF file (the format is recognised from the "
                            "content, not the file name)")
        with warnings.catch_warnings():
            # Decoder warnings (odd VRs, bomb warnings) are not actionable for the
            # user; real problems surface as the LoadError below.
            warnings.simplefilter("ignore")
            return _dispatch(data, kind, path, max_pixels, include_phi, name)
    except LoadError as exc:
        raise LoadError(f"{label}: {exc}") from exc
    except MemoryError as exc:
        raise LoadError(f"{label}: not enough memory to load this image; lower max_pixels or free memory") from exc
    except OSError as exc:
        raise LoadError(f"{label}: cannot read the file ({exc.strerror or type(exc).__name__})") from exc
    except Exception as exc:  # noqa: BLE001 - the one boundary where any decoder failure becomes a LoadError
        what = _NAMES.get(kind, "image")
        raise LoadError(f"{label}: the {what} file is damaged or unsupported ({type(exc).__name__})") from exc
