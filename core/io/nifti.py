"""NIfTI-1/-2 (nibabel): bomb-safe gunzip, canonical RAS+ volumes, strict values."""

from __future__ import annotations

import io
import logging
import math
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from core.errors import LoadError
from core.io.detect import gunzip_head
from core.io.image import MedicalImage
from core.io.orientation import canonicalize
from core.io.window import auto_window

__all__ = ["load_nifti", "load_nifti_pair"]

_XFORM_NAMES = {0: "unknown", 1: "scanner", 2: "aligned", 3: "talairach", 4: "mni", 5: "template"}


def _header_classes(kind: str):
    import nibabel as nib

    if kind == "nifti2":
        return nib.Nifti2Header, nib.Nifti2Image
    return nib.Nifti1Header, nib.Nifti1Image


def _check_header(header) -> tuple[tuple[int, ...], int]:
    """Validated spatial(+time) shape and the byte count the header promises."""
    shape = tuple(int(d) for d in header.get_data_shape())
    if not shape or any(d <= 0 for d in shape):
        raise LoadError(f"NIfTI header declares an empty dimension {shape}")
    while len(shape) > 4 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) > 4:
        raise LoadError(f"NIfTI image has {len(shape)} dimensions {shape}; only 2-D, 3-D and 4-D images are supported")
    try:
        itemsize = np.dtype(header.get_data_dtype()).itemsize
    except Exception as exc:  # noqa: BLE001 - unknown datatype codes
        raise LoadError(f"NIfTI header has an unsupported data type ({type(exc).__name__})") from exc
    offset = int(header.get_data_offset())
    return shape, offset + math.prod(shape) * itemsize  # Python ints: no int64 overflow


def _gunzip(data: bytes, limit: int) -> bytes:
    """Inflate at most ``limit`` bytes: the header has told us how many there should be."""
    d = zlib.decompressobj(wbits=31)
    try:
        return d.decompress(data, limit)
    except zlib.error as exc:
        raise LoadError("the gzip stream is damaged") from exc


@contextmanager
def _quiet_nibabel():
    """nibabel logs the header fixes it makes (e.g. an invalid sform code reset to 0)
    to stderr; the loader's metadata reports the codes it ended up with."""
    logger = logging.getLogger("nibabel")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _read_header(head: bytes, kind: str):
    header_cls, _ = _header_classes(kind)
    try:
        with _quiet_nibabel():
            return header_cls.from_fileobj(io.BytesIO(head), check=True)
    except Exception as exc:  # noqa: BLE001 - nibabel raises HeaderDataError, ValueError, ...
        # Only the type: nibabel's messages can quote header fields (descrip, intent name).
        raise LoadError(f"the NIfTI header is invalid ({type(exc).__name__})") from exc


def _guard(shape: tuple[int, ...], max_pixels: int) -> None:
    n = math.prod(shape)
    if n > max_pixels:
        raise LoadError(f"NIfTI image has {'x'.join(map(str, shape))} = {n:,} voxels, more than the limit of "
                        f"{max_pixels:,}; raise max_pixels if this file is trusted")


def load_nifti(data: bytes, kind: str, *, max_pixels: int, include_phi: bool = False,
               name: str | None = None) -> MedicalImage:
    """Decode a single-file NIfTI (``.nii`` or ``.nii.gz`` bytes). Raises LoadError."""
    header_size = 540 if kind == "nifti2" else 348
    compressed = data[:2] == b"\x1f\x8b"
    head = gunzip_head(data, header_size) if compressed else data[:header_size]
    if len(head) < header_size:
        raise LoadError("the NIfTI header is truncated")
    shape, n_bytes = _check_header(_read_header(head, kind))
    _guard(shape, max_pixels)
    if compressed:
        data = _gunzip(data, n_bytes)
    if len(data) < n_bytes:
        raise LoadError(f"the NIfTI file is truncated: {len(data):,} of {n_bytes:,} bytes present")
    _, image_cls = _header_classes(kind)
    try:
        with _quiet_nibabel():
            img = image_cls.from_bytes(data)
    except Exception as exc:  # noqa: BLE001
        raise LoadError(f"the NIfTI file cannot be parsed ({type(exc).__name__})") from exc
    return _from_image(img, kind, shape, include_phi=include_phi, name=name)


def load_nifti_pair(path: Path, *, max_pixels: int, include_phi: bool = False,
                    name: str | None = None) -> MedicalImage:
    """Decode an Analyze-style ``.hdr``/``.img`` NIfTI-1 pair from disk."""
    import nibabel as nib

    image_path = path.with_suffix(".img")
    if not image_path.is_file():
        raise LoadError(f"{path.name} is a NIfTI header; its image file {image_path.name} was not found next to it")
    head = path.read_bytes()[:348]
    shape, n_bytes = _check_header(_read_header(head, "nifti1"))
    _guard(shape, max_pixels)
    if image_path.stat().st_size < n_bytes - int(_read_header(head, "nifti1").get_data_offset()):
        raise LoadError(f"{image_path.name} is truncated")
    try:
        img = nib.Nifti1Pair.from_filename(str(path))
    except Exception as exc:  # noqa: BLE001
        raise LoadError(f"the NIfTI pair cannot be parsed ({type(exc).__name__})") from exc
    return _from_image(img, "nifti1-pair", shape, include_phi=include_phi, name=name)


def _from_image(img, kind: str, shape: tuple[int, ...], *, include_phi: bool, name: str | None) -> MedicalImage:
    import nibabel as nib

    header = img.header
    if np.dtype(header.get_data_dtype()).fields is not None or np.issubdtype(header.get_data_dtype(), np.complexfloating):
        raise LoadError(f"NIfTI data type {header.get_data_dtype()} (RGB or complex) is not supported")
    try:
        values = np.asarray(img.dataobj, dtype=np.float32).reshape(shape)
    except Exception as exc:  # noqa: BLE001
        raise LoadError(f"the NIfTI voxel data cannot be read ({type(exc).__name__})") from exc
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        raise LoadError(f"NIfTI image contains {bad:,} NaN/infinite voxel(s); fix or mask them before loading")
    if values.ndim == 2:
        values = values[:, :, None]
    affine = np.asarray(img.affine, dtype=np.float64)
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise LoadError("NIfTI affine (qform/sform) is degenerate; the voxel geometry is unknown")
    volume, canonical_affine, ornt = canonicalize(values, affine)
    zooms = np.sqrt((canonical_affine[:3, :3] ** 2).sum(axis=0))
    sform_code, qform_code = int(header["sform_code"]), int(header["qform_code"])
    metadata = {
        "Format": {"nifti1": "NIfTI-1", "nifti2": "NIfTI-2", "nifti1-pair": "NIfTI-1 pair"}[kind],
        "Shape": "x".join(map(str, shape)),
        "DataType": str(np.dtype(header.get_data_dtype())),
        "VoxelSize": "x".join(f"{z:g}" for z in header.get_zooms()[: len(shape)]),
        "Units": "/".join(u for u in header.get_xyzt_units() if u and u != "unknown") or "unknown",
        "SourceOrientation": "".join(nib.aff2axcodes(affine)),
        "CanonicalOrientation": "RAS",
        "sform": _XFORM_NAMES.get(sform_code, str(sform_code)),
        "qform": _XFORM_NAMES.get(qform_code, str(qform_code)),
    }
    slope, inter = header.get_slope_inter()
    if slope is not None and (slope != 1 or (inter or 0) != 0):
        metadata["Scaling"] = f"{slope:g} * value + {inter or 0:g}"
    if include_phi:
        descrip = bytes(header["descrip"]).split(b"\x00")[0].decode("latin-1").strip()
        if descrip:
            metadata["Description"] = descrip
    return MedicalImage(
        format="nifti", photometric="MONOCHROME2", spacing=(float(zooms[1]), float(zooms[0]), float(zooms[2])),
        default_window=auto_window(volume), metadata=metadata, modality=None, volume=volume,
        affine=canonical_affine, source_affine=affine, source_ornt=ornt, name=name,
        source_xforms=(*header.get_qform(coded=True), *header.get_sform(coded=True)))
