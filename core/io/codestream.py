"""Image sizes from a compressed frame's own header, read before any decoder runs.

A DICOM file's Rows/Columns are only a promise: the JPEG, JPEG-LS or
JPEG 2000 code stream inside carries its own dimensions, and the decoder
allocates what *those* say.  A 4 KiB file whose JPEG header claims
60000 x 60000 made a decoder allocate gigabytes before failing.  These
parsers read only the marker segments up to the first scan (no entropy
decoding), so the sizes can be checked against the DICOM header and the
pixel limit first.

- JPEG (ITU T.81): SOF0-SOF15 (baseline, extended, progressive, lossless);
  height 0 (to be defined later by a DNL marker) is refused.
- JPEG-LS (ITU T.87): SOF55, and the LSE marker segment with ID 4 that
  overrides the size with up to 32-bit values.
- JPEG 2000 (ITU T.800): the SIZ marker segment of a raw code stream, or of
  the ``jp2c`` box of a JP2 file.
- RLE (DICOM PS3.5 G.3): the 64-byte header's segment count and offsets.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from core.errors import LoadError

__all__ = ["FrameHeader", "jpeg_header", "j2k_header", "rle_segment_offsets"]

# SOF0-SOF15 minus DHT (C4), JPG (C8) and DAC (CC); SOF55 (F7) is JPEG-LS.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01, 0xD8}  # RSTn, TEM, SOI: no length field
_SOS, _EOI, _LSE = 0xDA, 0xD9, 0xF8


@dataclass(frozen=True)
class FrameHeader:
    """What a frame's code stream promises: ``rows`` x ``columns`` x ``components`` samples of ``precision`` bits."""

    codec: str
    rows: int
    columns: int
    components: int
    precision: int


def jpeg_header(data: bytes) -> FrameHeader:
    """The frame header of a JPEG or JPEG-LS code stream (``data`` = its first bytes).

    Raises LoadError when no frame header precedes the first scan, a
    segment runs past ``data``, or the size is deferred to a DNL marker.
    """
    if data[:2] != b"\xff\xd8":
        raise LoadError("the JPEG frame does not start with a JPEG start-of-image marker")
    pos, sof, oversize = 2, None, None
    while True:
        while pos < len(data) and data[pos] != 0xFF:
            pos += 1  # tolerate garbage between segments, as decoders do
        while pos < len(data) and data[pos] == 0xFF:
            pos += 1  # fill bytes
        if pos >= len(data):
            break
        marker = data[pos]
        pos += 1
        if marker in _STANDALONE:
            continue
        if marker in (_SOS, _EOI):
            break
        if pos + 2 > len(data):
            break
        (length,) = struct.unpack_from(">H", data, pos)
        segment = data[pos + 2: pos + length]
        if length < 2 or len(segment) < length - 2:
            raise LoadError("a JPEG marker segment is truncated or has an invalid length")
        if marker in _SOF_MARKERS and sof is None:
            if len(segment) < 6:
                raise LoadError("the JPEG frame header is truncated")
            precision, rows, columns, components = struct.unpack_from(">BHHB", segment)
            sof = ("JPEG-LS" if marker == 0xF7 else "JPEG", precision, rows, columns, components)
        elif marker == _LSE and segment[:1] == b"\x04":
            oversize = _lse_size(segment)
        pos += length
    if sof is None:
        raise LoadError("the JPEG frame has no frame header before its first scan")
    codec, precision, rows, columns, components = sof
    if oversize is not None:
        rows, columns = oversize
    if rows == 0:
        raise LoadError(f"the {codec} frame defers its height to a DNL marker, which is not supported")
    return FrameHeader(codec, rows, columns, components, precision)


def _lse_size(segment: bytes) -> tuple[int, int]:
    """(rows, columns) of a JPEG-LS LSE segment with ID 4 (T.87 C.2.4.1.4)."""
    if len(segment) < 2 or not 2 <= segment[1] <= 4 or len(segment) < 2 + 2 * segment[1]:
        raise LoadError("the JPEG-LS size extension segment is invalid")
    width = segment[1]
    rows = int.from_bytes(segment[2: 2 + width], "big")
    columns = int.from_bytes(segment[2 + width: 2 + 2 * width], "big")
    return rows, columns


def _codestream(data: bytes) -> bytes:
    """The raw JPEG 2000 code stream: ``data`` itself, or the ``jp2c`` box of a JP2 file."""
    if data[:4] == b"\xff\x4f\xff\x51":
        return data
    pos = 0
    while pos + 8 <= len(data):
        size, box = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > len(data):
                break
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        if box == b"jp2c":
            return data[pos + header:]
        if size < header:  # 0: the box runs to the end of the file
            break
        pos += size
    raise LoadError("the JPEG 2000 frame has no code stream header (SOC + SIZ markers)")


def j2k_header(data: bytes) -> FrameHeader:
    """The image size from the SIZ marker segment of a JPEG 2000 frame (``data`` = its first bytes)."""
    stream = _codestream(data)
    if stream[:4] != b"\xff\x4f\xff\x51":
        raise LoadError("the JPEG 2000 frame has no code stream header (SOC + SIZ markers)")
    if len(stream) < 4 + 38 + 3:
        raise LoadError("the JPEG 2000 size header is truncated")
    _lsiz, _rsiz, xsiz, ysiz, x0, y0 = struct.unpack_from(">HHIIII", stream, 4)
    (csiz,) = struct.unpack_from(">H", stream, 4 + 36)
    if x0 >= xsiz or y0 >= ysiz or csiz == 0:
        raise LoadError("the JPEG 2000 size header describes an empty image")
    precision = (stream[4 + 38] & 0x7F) + 1
    return FrameHeader("JPEG 2000", ysiz - y0, xsiz - x0, csiz, precision)


def rle_segment_offsets(data: bytes) -> list[int]:
    """The segment offsets of a DICOM RLE frame's 64-byte header (at most 15 segments)."""
    if len(data) < 64:
        raise LoadError("the RLE frame header is truncated")
    count, *offsets = struct.unpack_from("<16I", data)
    if not 1 <= count <= 15:
        raise LoadError(f"the RLE frame header declares {count} segments; 1 to 15 are allowed")
    return offsets[:count]
