"""Crafted decoder bombs for every format the loader reads, each a small file.

A *bomb* is a file whose headers make a decoder allocate (or inflate) far
more than the file's size: a JPEG/JPEG-LS/JPEG 2000 frame claiming
60000 x 60000 inside a 100 x 100 DICOM, RLE segment counts that disagree with
the header, a deflated data set or gzip/zlib stream inflating to a GiB,
PNG/TIFF/JPEG/NIfTI headers claiming billions of pixels, a TIFF page chain
that loops or runs to 20,000 pages.  Built offline from pydicom's test
files (:func:`benchmarks.hostile.testdata`).
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np

from benchmarks.hostile import GIB, raster, testdata

__all__ = ["bombs", "patch_frames", "deflate_zeros"]

_HUGE = 60000


# ------------------------------------------------------------------ DICOM bombs
def patch_frames(data: bytes, patch, **attributes) -> bytes:
    """A DICOM file with every encapsulated frame passed through ``patch(frame) -> frame``."""
    import pydicom
    from pydicom.encaps import encapsulate, generate_frames

    ds = pydicom.dcmread(io.BytesIO(data))
    n = int(ds.get("NumberOfFrames") or 1)
    frames = [patch(bytes(f)) for f in generate_frames(ds.PixelData, number_of_frames=n)]
    ds.PixelData = encapsulate(frames)
    for key, value in attributes.items():
        setattr(ds, key, value)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _jpeg_sof(frame: bytes, rows: int, cols: int) -> bytes:
    """Rewrite the size in a JPEG/JPEG-LS frame header (SOF0-15, SOF55)."""
    buf = bytearray(frame)
    pos = 2
    while pos + 4 <= len(buf):
        marker = buf[pos + 1]
        length = struct.unpack_from(">H", buf, pos + 2)[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xF7):
            struct.pack_into(">HH", buf, pos + 5, rows, cols)
            return bytes(buf)
        pos += 2 + length
    raise ValueError("no frame header")


def _jpegls_lse(frame: bytes, rows: int, cols: int) -> bytes:
    """A JPEG-LS frame whose size comes from an LSE (ID 4) segment with 32-bit values."""
    zeroed = bytearray(_jpeg_sof(frame, 0, 0))
    at = zeroed.index(b"\xff\xf7")
    at += 2 + struct.unpack_from(">H", zeroed, at + 2)[0]
    lse = b"\xff\xf8" + struct.pack(">HBBII", 12, 4, 4, rows, cols)
    return bytes(zeroed[:at]) + lse + bytes(zeroed[at:])


def _j2k_siz(frame: bytes, rows: int, cols: int) -> bytes:
    buf = bytearray(frame)
    at = buf.index(b"\xff\x4f\xff\x51") + 4
    struct.pack_into(">II", buf, at + 4, cols, rows)  # Xsiz, Ysiz after Lsiz, Rsiz
    return bytes(buf)


def _rle_count(frame: bytes, count: int) -> bytes:
    buf = bytearray(frame)
    struct.pack_into("<I", buf, 0, count)
    for k in range(1, count):
        struct.pack_into("<I", buf, 4 * k, 64 + k)
    return bytes(buf)


def deflate_zeros(n_bytes: int, prefix: bytes = b"", suffix: bytes = b"", wbits: int = -zlib.MAX_WBITS) -> bytes:
    """Deflate (raw; ``wbits=31`` for gzip) of ``prefix`` + ``n_bytes`` zeros + ``suffix``, streamed."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    chunk = bytes(16 * 2**20)
    parts = [packer.compress(prefix)]
    left = n_bytes
    while left > 0:
        parts.append(packer.compress(chunk[: min(left, len(chunk))]))
        left -= len(chunk)
    parts.append(packer.compress(suffix))
    parts.append(packer.flush())
    return b"".join(parts)


def _explicit_le(ds) -> bytes:
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_dataset(fp, ds)
    return fp.getvalue()


def _deflated_bombs(n_bytes: int) -> dict[str, bytes]:
    """Deflated Explicit VR files of 64 x 64 images whose data set inflates by ``n_bytes`` of zeros."""
    import pydicom
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import _read_file_meta_info, read_preamble

    seed = testdata("image_dfl.dcm")
    fp = DicomBytesIO(seed)
    read_preamble(fp, False)
    _read_file_meta_info(fp)
    head = seed[: fp.tell()]
    ds = pydicom.dcmread(io.BytesIO(seed))
    ds.Rows = ds.Columns = 64
    del ds.PixelData
    body = _explicit_le(ds)
    pixels = b"\xe0\x7f\x10\x00OB\x00\x00" + struct.pack("<I", 64 * 64)
    big = b"OB\x00\x00" + struct.pack("<I", n_bytes)
    private = b"\x09\x00\x10\x00LO" + struct.pack("<H", 4) + b"BOMB" + b"\x09\x00\x00\x10" + big
    return {
        # huge pixel data for a 64 x 64 header
        "dicom_deflate_pixels": head + deflate_zeros(n_bytes, body + b"\xe0\x7f\x10\x00" + big),
        # a huge private element before the image attributes
        "dicom_deflate_prefix": head + deflate_zeros(n_bytes, private, body + pixels + bytes(64 * 64)),
        # a normal image followed by huge trailing padding
        "dicom_deflate_trailer": head + deflate_zeros(n_bytes, body + pixels + bytes(64 * 64)
                                                      + b"\xfc\xff\xfc\xff" + big),
    }


def _dicom_bombs(deflate_bytes: int) -> dict[str, bytes]:
    import pydicom

    jpeg, lossless = testdata("SC_rgb_jpeg_dcmtk.dcm"), testdata("SC_rgb_jpeg_gdcm.dcm")
    jls, j2k, rle = (testdata(n) for n in ("MR_small_jpeg_ls_lossless.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm"))
    out = {
        "dicom_jpeg_sof_huge": patch_frames(jpeg, lambda f: _jpeg_sof(f, _HUGE, _HUGE)),
        "dicom_jpeg_sof_mismatch": patch_frames(jpeg, lambda f: _jpeg_sof(f, 4096, 4096)),
        "dicom_jpeg_lossless_sof": patch_frames(lossless, lambda f: _jpeg_sof(f, _HUGE, _HUGE)),
        "dicom_jpegls_sof55": patch_frames(jls, lambda f: _jpeg_sof(f, _HUGE, _HUGE)),
        "dicom_jpegls_lse_oversize": patch_frames(jls, lambda f: _jpegls_lse(f, 200_000, 200_000)),
        "dicom_j2k_siz": patch_frames(j2k, lambda f: _j2k_siz(f, _HUGE, _HUGE)),
        "dicom_rle_segments": patch_frames(rle, lambda f: _rle_count(f, 15)),
        "dicom_rle_header_huge": patch_frames(rle, lambda f: f, Rows=65535, Columns=65535, NumberOfFrames=5000),
    }
    ds = pydicom.dcmread(io.BytesIO(testdata("CT_small.dcm")))
    ds.Rows = ds.Columns = 65535
    ds.NumberOfFrames = 100000
    buf = io.BytesIO()
    ds.save_as(buf)
    out["dicom_native_header_huge"] = buf.getvalue()
    out.update(_deflated_bombs(deflate_bytes))
    return out


# ------------------------------------------------------- other formats' bombs
def _png(width: int, height: int, idat: bytes, extra: bytes = b"") -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _tiff(width: int, height: int, samples: int = 1, pages: int = 1, loop: bool = False) -> bytes:
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8), (277, 3, 1, samples), (278, 4, 1, height), (279, 4, 1, 16)]
    out = bytearray(b"II*\x00" + struct.pack("<I", 24) + bytes(16))
    for page in range(pages):
        offset = len(out)
        out += struct.pack("<H", len(entries))
        for tag, kind, count, value in entries:
            out += struct.pack("<HHII", tag, kind, count, value)
        nxt = offset if loop else (offset + 2 + 12 * len(entries) + 4 if page + 1 < pages else 0)
        out += struct.pack("<I", nxt)
    return bytes(out)


def _nifti(shape: tuple[int, ...], gz_zeros: int = 0, version: int = 1) -> bytes:
    import nibabel as nib

    header = nib.Nifti1Header() if version == 1 else nib.Nifti2Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.uint8)
    raw = header.binaryblock + b"\x00\x00\x00\x00"
    return deflate_zeros(gz_zeros, raw, wbits=31) if gz_zeros else raw + bytes(64)


def _raster_bombs(zeros: int) -> dict[str, bytes]:
    small = zlib.compress(bytes(65))
    png_bomb = deflate_zeros(zeros, wbits=zlib.MAX_WBITS)
    jpeg = raster("JPEG", (64, 64), np.uint8, 7)
    ztxt = b"Comment\x00\x00" + png_bomb
    ztxt_chunk = struct.pack(">I", len(ztxt)) + b"zTXt" + ztxt + struct.pack(">I", zlib.crc32(b"zTXt" + ztxt))
    return {
        "png_ihdr_huge": _png(_HUGE * 2, _HUGE * 2, small),
        "png_zlib_bomb": _png(64, 1, png_bomb),
        "png_ztxt_bomb": _png(64, 1, small, ztxt_chunk),
        "jpeg_sof_huge": _jpeg_sof(jpeg, _HUGE, _HUGE),
        "tiff_size_huge": _tiff(200_000, 200_000),
        "tiff_samples_huge": _tiff(4096, 4096, samples=65535),
        "tiff_ifd_loop": _tiff(16, 16, loop=True),
        "tiff_many_pages": _tiff(64, 64, pages=20_000),
        "nifti_dims_huge": _nifti((30000, 30000, 30000)),
        "nifti2_dims_huge": _nifti((2**31, 2**31, 1000), version=2),
        "nifti_gz_bomb": _nifti((64, 64, 64), gz_zeros=zeros),
        "gzip_of_zeros": deflate_zeros(zeros, wbits=31),
    }


def bombs(inflate_bytes: int = GIB) -> dict[str, bytes]:
    """Crafted decompression/allocation bombs for every format (name -> bytes, each well under 10 MiB).

    ``inflate_bytes`` is how far the deflate/gzip/zlib bombs inflate (1 GiB by default).
    """
    out = _dicom_bombs(inflate_bytes)
    out.update(_raster_bombs(inflate_bytes))
    return out
