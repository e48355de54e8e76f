"""Recognise an image file's format from its first bytes, never from its name.

A browser upload or a mis-named file (``scan.dcm`` that is really a PNG) must
still be read by the right decoder, and a text file named ``.dcm`` must be
refused before any decoder sees it.
"""

from __future__ import annotations

import io
import struct
import zlib

__all__ = ["FORMATS", "detect_format", "gunzip_head"]

#: Every value :func:`detect_format` can return.
FORMATS = ("dicom", "nifti1", "nifti2", "nifti1-pair", "png", "jpeg", "tiff", "unknown")

_GZIP_MAGIC = b"\x1f\x8b"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
# Groups a preamble-less DICOM stream starts with: file meta (0002), or the
# first group of a bare dataset (0008); both byte orders.
_RAW_DICOM_STARTS = (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08")


def gunzip_head(data: bytes, n: int) -> bytes:
    """Up to ``n`` decompressed bytes from the start of a gzip stream.

    Only ``n`` bytes are inflated, so a gzip bomb costs nothing here.
    Returns ``b""`` when the stream is not valid gzip.
    """
    try:
        return zlib.decompressobj(wbits=31).decompress(data, n)
    except zlib.error:
        return b""


def _nifti_kind(head: bytes) -> str | None:
    if len(head) >= 348:
        for endian in "<>":
            (sizeof_hdr,) = struct.unpack(endian + "i", head[:4])
            if sizeof_hdr == 348 and head[344:348] in (b"n+1\x00", b"ni1\x00"):
                return "nifti1" if head[344:347] == b"n+1" else "nifti1-pair"
            if sizeof_hdr == 540 and len(head) >= 540 and head[4:8] in (b"n+2\x00", b"ni2\x00"):
                return "nifti2" if head[4:7] == b"n+2" else "nifti1-pair"
    return None


def _is_raw_dicom(data: bytes) -> bool:
    """A DICOM stream without the 128-byte preamble and ``DICM`` marker.

    ``force=True`` makes pydicom accept almost anything, so the stream must
    start with a plausible group and must parse into a dataset that carries
    image geometry and pixel data; otherwise it is not treated as DICOM.
    """
    if len(data) < 8 or data[:2] not in _RAW_DICOM_STARTS:
        return False
    import warnings

    import pydicom

    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import _read_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if _read_file_meta_info(DicomBytesIO(data)).get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
                # A file meta group naming a real syntax is evidence enough; parsing the
                # data set would inflate it, which only the loader does, under its limit.
                return True
            ds = pydicom.dcmread(io.BytesIO(data), force=True, defer_size=256)
            return all(k in ds for k in ("Rows", "Columns", "PixelData")) and int(ds.Rows) > 0
    except Exception:  # noqa: BLE001 - any parse failure means "not DICOM"
        return False


def detect_format(data: bytes) -> str:
    """The format of an image file from its content.

    Recognises DICOM (``DICM`` at offset 128, or a preamble-less stream that
    parses as a dataset with pixel data), NIfTI-1 (``n+1``; ``ni1`` header of
    a ``.hdr/.img`` pair), NIfTI-2 (``n+2``), gzip-compressed NIfTI, PNG,
    JPEG and TIFF.  Returns one of :data:`FORMATS`; ``"unknown"`` otherwise.
    """
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "dicom"
    if data.startswith(_GZIP_MAGIC):
        return _nifti_kind(gunzip_head(data, 540)) or "unknown"
    kind = _nifti_kind(data[:540])
    if kind:
        return kind
    if data.startswith(_PNG_MAGIC):
        return "png"
    if data.startswith(_JPEG_MAGIC):
        return "jpeg"
    if data[:4] in _TIFF_MAGICS:
        return "tiff"
    if _is_raw_dicom(data):
        return "dicom"
    return "unknown"
