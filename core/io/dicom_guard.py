"""DICOM decoder-bomb guards: a bounded parse, and frame headers checked before decoding.

Two ways a small DICOM file could make the loader allocate gigabytes:

- **Deflated Explicit VR Little Endian** (PS3.5 A.5): pydicom inflates the
  whole data set inside ``dcmread``.  :func:`read_dicom` inflates it itself,
  first just far enough to read the image geometry, then at most the bytes
  that geometry needs (and never more than ``max_pixels`` allows) plus a
  small slack for trailing attributes; a stream that would inflate further
  is refused.
- **Encapsulated frames** (JPEG, JPEG-LS, JPEG 2000, RLE): the decoder
  allocates what the frame's own header says, whatever Rows/Columns promise.
  :func:`check_frames` reads every frame's header (:mod:`core.io.codestream`)
  and refuses any frame whose size or sample count differs from the DICOM
  header before a decoder sees it.
"""

from __future__ import annotations

import io
import zlib
from typing import Any

from core.errors import LoadError
from core.io.codestream import j2k_header, jpeg_header, rle_segment_offsets

__all__ = ["read_dicom", "check_frames", "syntax_label", "DEFLATE_SLACK"]

#: Inflated bytes allowed beyond the pixel data the header describes (trailing attributes).
DEFLATE_SLACK = 8 * 2**20
# How far the inflated stream may run before the image attributes (group 0028) must have appeared.
# (Large sequences such as per-frame functional groups, icons and overlays come after group 0028.)
_MAX_DEFLATED_PREFIX = 16 * 2**20
_FIRST_CHUNK = 2**20
# A frame's header sits in its first bytes; APPn segments (thumbnails) are at most 64 KiB each.
_HEADER_BYTES = 2**20
_GEOMETRY_END = 0x0029_0000  # first tag after the Image Pixel module's group 0028
# Top-level elements allowed before group 0028 ends; zero-filled streams parse as millions of empty ones.
_MAX_PREFIX_ELEMENTS = 50_000


def syntax_label(syntax: Any) -> str:
    """A transfer syntax as a message may show it: name and UID if pydicom's dictionary knows it."""
    if syntax is not None and getattr(syntax, "keyword", "") and syntax.is_transfer_syntax:
        return f"{syntax.name} ({syntax})"
    return "an unknown transfer syntax"


def _geometry(head: bytes) -> tuple[dict[str, int], bool]:
    """The image attributes in an inflated prefix, and whether the prefix reached past group 0028."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import read_dataset

    reached, seen = [], [0]

    def stop(tag, vr, length) -> bool:  # noqa: ARG001 - pydicom's stop_when signature
        seen[0] += 1
        if tag >= _GEOMETRY_END:
            reached.append(True)
            return True
        return seen[0] > _MAX_PREFIX_ELEMENTS

    try:
        ds = read_dataset(DicomBytesIO(head), False, True, stop_when=stop)
        values = {k: int(ds[k].value) for k in ("Rows", "Columns", "NumberOfFrames", "SamplesPerPixel",
                                                 "BitsAllocated") if k in ds and ds[k].value not in (None, "")}
    except Exception:  # noqa: BLE001 - a prefix may end inside an element
        return {}, False
    if seen[0] > _MAX_PREFIX_ELEMENTS:
        raise LoadError(f"the deflated data set has more than {_MAX_PREFIX_ELEMENTS:,} elements before its "
                        "image attributes; refused as damaged")
    return values, bool(reached)


def _inflate(stream: bytes, max_pixels: int) -> bytes:
    """Inflate a deflated data set, refusing any stream that runs past what its geometry needs."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = bytearray(inflater.decompress(stream, _FIRST_CHUNK))
        while True:
            values, reached = _geometry(bytes(out))
            if reached or inflater.eof or not inflater.unconsumed_tail:
                break
            if len(out) >= _MAX_DEFLATED_PREFIX:
                raise LoadError(f"the deflated data set holds more than {_MAX_DEFLATED_PREFIX // 2**20} MiB "
                                "before its image attributes; refused as a decompression bomb")
            out += inflater.decompress(inflater.unconsumed_tail, max(len(out), _FIRST_CHUNK))
        pixels = values.get("Rows", 0) * values.get("Columns", 0) * max(values.get("NumberOfFrames", 1), 1)
        if pixels > max_pixels:
            raise LoadError(f"DICOM image has {values['Rows']}x{values['Columns']}x"
                            f"{max(values.get('NumberOfFrames', 1), 1)} pixels, more than the limit of "
                            f"{max_pixels:,}; raise max_pixels if this file is trusted")
        per_pixel = max(values.get("SamplesPerPixel", 1), 1) * -(-max(values.get("BitsAllocated", 8), 1) // 8)
        limit = len(out) + min(pixels * per_pixel, max_pixels * 8) + DEFLATE_SLACK
        if inflater.unconsumed_tail:
            out += inflater.decompress(inflater.unconsumed_tail, limit - len(out))
    except zlib.error as exc:
        raise LoadError("the deflated data set is damaged") from exc
    if inflater.unconsumed_tail:
        raise LoadError(f"the deflated data set inflates to more than {limit / 2**20:,.0f} MiB, beyond what its "
                        "image size needs; refused as a decompression bomb")
    if not inflater.eof:
        raise LoadError("the deflated data set is truncated")
    return bytes(out)


def read_dicom(data: bytes, max_pixels: int) -> Any:
    """Parse DICOM bytes (``force=True``) with deflated data sets inflated under a hard limit.

    Returns a pydicom ``FileDataset``; raises LoadError or a pydicom error on damage.
    """
    import pydicom
    from pydicom.dataset import FileDataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import _read_file_meta_info, read_dataset, read_preamble
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    fp = DicomBytesIO(data)
    preamble = read_preamble(fp, True)
    meta = _read_file_meta_info(fp)
    if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
        return pydicom.dcmread(io.BytesIO(data), force=True)
    body = _inflate(data[fp.tell():], max_pixels)
    dataset = read_dataset(DicomBytesIO(body), False, True)
    ds = FileDataset(io.BytesIO(), dataset, preamble, meta, False, True)
    ds.set_original_encoding(False, True, dataset._character_set)
    return ds


def _check_header(header, what: str, rows: int, cols: int, samples: int, max_pixels: int) -> None:
    if header.rows * header.columns > max_pixels:
        raise LoadError(f"{what} header declares {header.rows}x{header.columns} pixels, more than the limit of "
                        f"{max_pixels:,}; refused before decoding")
    if (header.rows, header.columns) != (rows, cols):
        raise LoadError(f"{what} header declares {header.rows}x{header.columns} pixels but the DICOM header "
                        f"{rows}x{cols}; refused before decoding")
    if header.components != samples:
        raise LoadError(f"{what} header declares {header.components} component(s) but the DICOM header "
                        f"{samples} sample(s) per pixel; refused before decoding")


def check_frames(ds: Any, rows: int, cols: int, samples: int, max_pixels: int) -> int:
    """Check every encapsulated frame's own header against the DICOM header; returns the frames checked.

    Native (uncompressed or deflated) pixel data returns 0 after checking it
    holds the bytes the header promises.  Raises LoadError on any disagreement, on
    an encapsulated syntax whose frame header cannot be checked here, or
    when the encapsulation itself is damaged.
    """
    import pydicom.uid as uid
    from pydicom.encaps import generate_frames

    syntax = ds.file_meta.TransferSyntaxUID
    bits = int(ds.get("BitsAllocated") or 8)
    n_frames = int(ds.get("NumberOfFrames") or 1)
    if not syntax.is_compressed:
        if "PixelData" in ds:
            # YBR_FULL_422 stores two samples per pixel (PS3.3 C.7.6.3.1.2).
            stored = 2 if samples == 3 and "422" in str(ds.get("PhotometricInterpretation", "")) else samples
            expected = -(-rows * cols * n_frames * stored * bits // 8)
            found = len(ds.PixelData or b"")
            if found < expected:
                raise LoadError(f"the pixel data holds {found:,} bytes, fewer than the {expected:,} that "
                                f"{rows}x{cols}x{n_frames} pixels of {samples} x {bits} bits need: the file is "
                                "truncated or its header is damaged")
        return 0
    if syntax in uid.JPEGTransferSyntaxes or syntax in uid.JPEGLSTransferSyntaxes:
        parse, codec = jpeg_header, "JPEG"
    elif syntax in uid.JPEG2000TransferSyntaxes:
        parse, codec = j2k_header, "JPEG 2000"
    elif syntax == uid.RLELossless:
        parse, codec = None, "RLE"
    else:
        raise LoadError(f"cannot decode {syntax_label(syntax)}: its frame sizes cannot be checked before decoding")
    offsets = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        offsets = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
    checked = 0
    try:
        for index, frame in enumerate(generate_frames(ds.PixelData, number_of_frames=n_frames,
                                                      extended_offsets=offsets)):
            what = f"frame {index + 1}'s {codec}"
            if parse is None:
                found = rle_segment_offsets(frame[:64])
                expected = samples * -(-bits // 8)
                if len(found) != expected:
                    raise LoadError(f"{what} header declares {len(found)} segments, not the {expected} its "
                                    f"{samples} sample(s) of {bits} bits need; refused before decoding")
                if any(b <= a for a, b in zip([63, *found], found)) or found[-1] >= len(frame):
                    raise LoadError(f"{what} segment offsets are out of order or beyond the frame")
            else:
                _check_header(parse(frame[:_HEADER_BYTES]), what, rows, cols, samples, max_pixels)
            checked += 1
    except LoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom raises several types on damaged encapsulation
        raise LoadError(f"the encapsulated pixel data is damaged ({type(exc).__name__})") from exc
    if checked == 0:
        raise LoadError("the encapsulated pixel data holds no frame")
    return checked
