"""DICOM (pydicom 3): colour, multi-frame geometry, and the decoding pipeline.

Pipeline: a bounded parse and frame-header checks (:mod:`core.io.dicom_guard`)
-> decode -> modality LUT and VOI windows (:mod:`core.io.dicom_lut`) ->
modality units kept in the image.  Messages name the transfer syntax only
when pydicom's dictionary knows it and never quote an attribute value.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from core.errors import LoadError
from core.io.dicom_guard import check_frames, read_dicom, syntax_label
from core.io.dicom_lut import functional_group, modality_lut, tag_windows
from core.io.image import MedicalImage
from core.io.metadata import dicom_metadata, dicom_text
from core.io.orientation import canonicalize
from core.io.window import Window, auto_window

__all__ = ["load_dicom"]

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# Frame positions may wobble by rounding; beyond this fraction of the mean
# step the frames are not a regular grid and stay a plain frame stack.
_GRID_TOLERANCE = 0.01
_PHOTOMETRICS = ("MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR", "YBR_FULL", "YBR_FULL_422", "YBR_ICT",
                 "YBR_RCT", "YBR_PARTIAL_420", "YBR_PARTIAL_422", "HSV", "ARGB", "CMYK", "XYB")


def _int(ds: Any, keyword: str, default: int | None = None) -> int:
    value = ds.get(keyword, default)
    if value is None or value == "":
        if default is None:
            raise LoadError(f"DICOM attribute {keyword} is missing; the image geometry is unknown")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        # The value itself is never quoted: a damaged length can make it swallow the next attributes.
        raise LoadError(f"DICOM attribute {keyword} does not hold a whole number") from None


def _floats(value: Any, n: int) -> list[float] | None:
    try:
        out = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    return out if len(out) == n and all(np.isfinite(out)) else None


def _sop_name(ds: Any) -> str:
    """The SOP class by its standard name, only when pydicom's dictionary knows the UID ('' otherwise).

    For an unknown UID pydicom's ``name`` is the raw value, which a damaged
    length can stretch over PatientName, IDs and dates.
    """
    try:
        sop = ds.get("SOPClassUID")
        if sop is not None and getattr(sop, "keyword", ""):
            return f"{sop.name}"
    except Exception:  # noqa: BLE001 - a damaged UID element is simply not named
        pass
    return ""


def _ensure_transfer_syntax(ds: Any) -> None:
    """Preamble-less files may lack the meta group: infer it from how pydicom parsed them."""
    import pydicom.uid as uid
    from pydicom.dataset import FileMetaDataset

    if "TransferSyntaxUID" in getattr(ds, "file_meta", {}):
        return
    implicit, little = ds.original_encoding
    if implicit is None:
        raise LoadError("DICOM file has no transfer syntax and its encoding cannot be inferred")
    if not hasattr(ds, "file_meta"):
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = (
        uid.ImplicitVRLittleEndian if implicit else uid.ExplicitVRLittleEndian if little else uid.ExplicitVRBigEndian)


def _check_decoder(ds: Any) -> None:
    """Refuse early, naming the transfer syntax, when nothing installed can decode it."""
    from pydicom.pixels import get_decoder

    syntax = ds.file_meta.TransferSyntaxUID
    label = syntax_label(syntax)
    if not syntax.keyword or not syntax.is_transfer_syntax:
        raise LoadError("cannot decode the pixel data: the file names an unknown transfer syntax")
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise LoadError(f"cannot decode {label}: pydicom has no decoder for it; "
                        "convert the file to an uncompressed syntax (e.g. dcmdjpeg/gdcmconv)") from None
    if not decoder.is_available:
        missing = "; ".join(str(v) for v in decoder.missing_dependencies) or "a decoder plugin"
        raise LoadError(f"cannot decode {label}: no installed plugin supports it ({missing}); "
                        "install one of those packages or convert the file to an uncompressed syntax")


def _decode(ds: Any) -> np.ndarray:
    syntax = ds.file_meta.TransferSyntaxUID
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - decoder errors come in every type
        # Only the exception's type: decoder messages may quote the data.
        kind = syntax_label(syntax) if syntax.is_compressed else "the pixel data"
        raise LoadError(f"cannot decode {kind}: the data is damaged or truncated ({type(exc).__name__})") from exc


def _spacing(ds: Any) -> tuple[tuple[float, float], str]:
    for source, keyword in ((ds, "PixelSpacing"), (functional_group(ds, 0, "PixelMeasuresSequence"), "PixelSpacing"),
                            (ds, "ImagerPixelSpacing")):
        if source is not None and keyword in source:
            values = _floats(source.get(keyword), 2)
            if values and all(v > 0 for v in values):
                return (values[0], values[1]), keyword
    return (1.0, 1.0), "unknown (1 mm assumed)"


def _frame_geometry(ds: Any, n_frames: int, spacing: tuple[float, float]) -> tuple[np.ndarray, np.ndarray] | None:
    """(affine in RAS+ for voxel (col, row, frame), frame order) when frames form a regular grid."""
    orientation = functional_group(ds, 0, "PlaneOrientationSequence")
    iop = _floats((orientation or ds).get("ImageOrientationPatient"), 6)
    if iop is None:
        return None
    row_dir, col_dir = np.array(iop[:3]), np.array(iop[3:])
    normal = np.cross(row_dir, col_dir)
    if not np.isclose(np.linalg.norm(normal), 1.0, atol=1e-3):
        return None
    positions = []
    for i in range(n_frames):
        item = functional_group(ds, i, "PlanePositionSequence")
        pos = _floats(item.get("ImagePositionPatient"), 3) if item is not None else None
        positions.append(pos)
    if any(p is None for p in positions):
        origin = _floats(ds.get("ImagePositionPatient"), 3)
        offsets = _floats(ds.get("GridFrameOffsetVector"), n_frames) if "GridFrameOffsetVector" in ds else None
        if origin is None or offsets is None:
            return None
        # PS3.3 C.8.8.3.2: offsets are along the normal, relative to the origin.
        positions = [list(np.array(origin) + off * normal) for off in offsets]
    pos = np.array(positions, dtype=np.float64)
    along = pos @ normal
    monotonic = np.all(np.diff(along) > 0) or np.all(np.diff(along) < 0)
    # File order when it already walks through space; otherwise sort, and the
    # regularity test below decides whether the sorted frames form a grid.
    order = np.arange(n_frames) if monotonic else np.argsort(along, kind="stable")
    steps = np.diff(pos[order], axis=0)
    if steps.size:
        step = steps.mean(axis=0)
        if np.linalg.norm(step) <= 0 or np.abs(steps - step).max() > _GRID_TOLERANCE * np.linalg.norm(step):
            return None
    else:
        thickness = float(ds.get("SliceThickness") or 1.0)
        step = normal * (thickness if thickness > 0 else 1.0)
    lps = np.eye(4)
    lps[:3, 0] = row_dir * spacing[1]  # along a row = increasing column index
    lps[:3, 1] = col_dir * spacing[0]
    lps[:3, 2] = step
    lps[:3, 3] = pos[order[0]]
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps, order


def load_dicom(data: bytes, *, max_pixels: int, include_phi: bool = False, name: str | None = None) -> MedicalImage:
    """Decode one DICOM file (bytes) into a :class:`MedicalImage`. Raises LoadError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = read_dicom(data, max_pixels)
    except LoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on bad bytes
        raise LoadError(f"not a readable DICOM file ({type(exc).__name__})") from exc
    if not any(k in ds for k in _PIXEL_KEYWORDS):
        sop_name = _sop_name(ds)
        if "Image" in sop_name:
            raise LoadError(f"this {sop_name} file has no pixel data: it is truncated or incomplete")
        what = f" ({sop_name})" if sop_name else ""
        raise LoadError(f"this DICOM file has no pixel data{what}; open an image file of the series instead")
    rows, cols = _int(ds, "Rows"), _int(ds, "Columns")
    n_frames, samples = _int(ds, "NumberOfFrames", 1), _int(ds, "SamplesPerPixel", 1)
    if min(rows, cols, n_frames, samples) < 1:
        raise LoadError(f"DICOM image has an empty dimension ({rows}x{cols}, {n_frames} frames)")
    if samples not in (1, 3):
        raise LoadError(f"DICOM image has {samples} samples per pixel; only 1 (grey) and 3 (colour) are supported")
    if rows * cols * n_frames > max_pixels:
        raise LoadError(f"DICOM image has {rows}x{cols}x{n_frames} pixels, more than the limit of "
                        f"{max_pixels:,}; raise max_pixels if this file is trusted")
    _ensure_transfer_syntax(ds)
    _check_decoder(ds)
    check_frames(ds, rows, cols, samples, max_pixels)
    arr = _decode(ds)
    photometric = (dicom_text(ds, "PhotometricInterpretation") or "MONOCHROME2").upper()
    palette = photometric == "PALETTE COLOR"
    if palette:
        from pydicom.pixels import apply_color_lut

        arr = apply_color_lut(arr, ds)
        samples = 3
    color = samples == 3
    if color:
        photometric = "RGB"  # pixel_array converts YBR_* to RGB; palettes were applied above
    expected = (rows, cols, 3) if color else (rows, cols)
    if arr.shape == expected:
        arr = arr[None]
    if arr.shape != (n_frames, *expected):
        raise LoadError(f"DICOM pixel data has shape {arr.shape}, not the {(n_frames, *expected)} "
                        "its header promises")
    if photometric not in ("MONOCHROME1", "MONOCHROME2", "RGB"):
        shown = photometric if photometric in _PHOTOMETRICS else "that is not a DICOM term"
        raise LoadError(f"unsupported DICOM photometric interpretation ({shown})")
    if color:
        # Palette output has the LUT's entry depth; true colour has Bits Stored.
        bits = arr.dtype.itemsize * 8 if palette else _int(ds, "BitsStored", arr.dtype.itemsize * 8)
        frames = arr.astype(np.float32)
        top = float(2 ** min(bits, 32) - 1)
        windows: list[Window] = []
        default = Window(top / 2, top, "full range", "LINEAR_EXACT")
    else:
        frames = modality_lut(arr, ds)
        windows = tag_windows(ds)
        default = windows[0] if windows else auto_window(frames)
    if not np.isfinite(frames).all():
        raise LoadError("DICOM pixel data contains NaN or infinite values")
    spacing, spacing_source = _spacing(ds)
    metadata = dicom_metadata(ds, include_phi=include_phi)
    metadata["SpacingSource"] = spacing_source
    common = dict(format="dicom", photometric=photometric, default_window=default, metadata=metadata,
                  modality=dicom_text(ds, "Modality") or None, windows=tuple(windows), name=name)
    geometry = _frame_geometry(ds, n_frames, spacing) if n_frames > 1 and not color else None
    if geometry is None:
        return MedicalImage(spacing=spacing, frames_data=frames, **common)
    source_affine, order = geometry
    source = frames[order].transpose(2, 1, 0)  # (col, row, frame) = voxel (i, j, k)
    volume, affine, ornt = canonicalize(source, source_affine)
    slice_step = float(np.linalg.norm(source_affine[:3, 2]))
    metadata["FrameOrder"] = "file order" if np.array_equal(order, np.arange(n_frames)) else "sorted by position"
    return MedicalImage(spacing=(*spacing, slice_step), frames_data=frames, volume=volume, affine=affine,
                        source_affine=source_affine, source_ornt=ornt, **common)
