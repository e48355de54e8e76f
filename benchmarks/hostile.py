"""Hostile inputs for the image loaders: real seed files of every format and mutations of them.

Shared by ``benchmarks/bench_fuzz.py`` (thousands of inputs) and the test
suite (a quick sample); the crafted bombs are in :mod:`benchmarks.bombs`.
Everything is generated offline from pydicom's and nibabel's bundled test
files plus images drawn here; nothing is downloaded.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Iterator

import numpy as np

__all__ = ["DICOM_SEEDS", "seed_files", "testdata", "raster", "mutate", "fuzz_cases", "GIB"]

#: pydicom test files, one or two per transfer syntax family the loader decodes.
DICOM_SEEDS = ("CT_small.dcm", "MR_small.dcm", "rtdose.dcm", "image_dfl.dcm", "SC_rgb_jpeg_dcmtk.dcm",
               "JPGExtended.dcm", "SC_rgb_jpeg_gdcm.dcm", "MR_small_jpeg_ls_lossless.dcm",
               "JPEGLSNearLossless_16.dcm", "JPEG2000.dcm", "MR_small_jp2klossless.dcm", "MR_small_RLE.dcm",
               "SC_rgb_rle_2frame.dcm")
GIB = 2**30


def testdata(name: str) -> bytes:
    """The bytes of one of pydicom's bundled test files."""
    from pydicom.data import get_testdata_file

    return Path(get_testdata_file(name)).read_bytes()


def raster(fmt: str, shape: tuple[int, ...], dtype, seed: int) -> bytes:
    """A seeded random image of ``shape`` and ``dtype`` encoded by Pillow as ``fmt`` (PNG, JPEG, TIFF)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, top, shape, dtype=dtype)).save(buf, fmt)
    return buf.getvalue()


def seed_files() -> dict[str, bytes]:
    """Valid files of every supported format (name -> bytes)."""
    import nibabel as nib

    nib_data = Path(nib.__file__).parent / "tests" / "data"
    files = {name: testdata(name) for name in DICOM_SEEDS}
    files.update({
        "anatomical.nii": (nib_data / "anatomical.nii").read_bytes(),
        "example4d.nii.gz": (nib_data / "example4d.nii.gz").read_bytes(),
        "example_nifti2.nii.gz": (nib_data / "example_nifti2.nii.gz").read_bytes(),
        "grey16.png": raster("PNG", (24, 20), np.uint16, 1),
        "rgb.png": raster("PNG", (24, 20, 3), np.uint8, 2),
        "rgb.jpg": raster("JPEG", (24, 20, 3), np.uint8, 3),
        "grey.jpg": raster("JPEG", (32, 16), np.uint8, 4),
        "grey16.tif": raster("TIFF", (16, 12), np.uint16, 5),
        "rgb.tif": raster("TIFF", (10, 14, 3), np.uint8, 6),
    })
    return files


def _element_length_offsets(data: bytes) -> list[int]:
    """Offsets of the 2-byte length fields of explicit-VR short elements (where a VR code appears)."""
    short_vrs = (b"AE", b"AS", b"CS", b"DA", b"DS", b"DT", b"IS", b"LO", b"PN", b"SH", b"TM", b"UI", b"US", b"ST",
                 b"LT")
    found = []
    for i in range(132, max(132, len(data) - 8)):
        if data[i + 4: i + 6] in short_vrs and data[i + 1] < 0x80:
            found.append(i + 6)
    return found


def mutate(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One random damage: truncation, flipped bytes, zeroed or spliced ranges, or a wrong element length."""
    buf = bytearray(data)
    kind = ("truncate", "flip", "zero_header", "splice", "flip_header", "length")[rng.integers(6)]
    if kind == "truncate":
        return kind, bytes(buf[: rng.integers(0, len(buf))])
    if kind in ("flip", "flip_header"):
        limit = min(len(buf), 600) if kind == "flip_header" else len(buf)
        for pos in rng.integers(0, limit, size=rng.integers(1, 9)):
            buf[pos] ^= int(rng.integers(1, 256))
        return kind, bytes(buf)
    if kind == "zero_header":
        start = int(rng.integers(0, min(len(buf), 400)))
        stop = start + int(rng.integers(1, 200))
        buf[start:stop] = bytes(len(buf[start:stop]))
        return kind, bytes(buf)
    if kind == "length":
        offsets = _element_length_offsets(data) if data[128:132] == b"DICM" else []
        if offsets:
            pos = offsets[int(rng.integers(len(offsets)))]
            old = struct.unpack_from("<H", buf, pos)[0]
            new = int(rng.choice([old + 1, old + int(rng.integers(2, 400)), 0xFFFF, max(0, old - 1), 0]))
            struct.pack_into("<H", buf, pos, min(new, 0xFFFF))
            return kind, bytes(buf)
        kind = "splice"
    at = int(rng.integers(0, len(buf)))
    garbage = rng.integers(0, 256, size=int(rng.integers(1, 300)), dtype=np.uint8).tobytes()
    return kind, bytes(buf[:at]) + garbage + bytes(buf[at + int(rng.integers(0, 300)):])


def fuzz_cases(n: int, seed: int = 20251125, inflate_bytes: int = GIB) -> Iterator[tuple[str, bytes]]:
    """``n`` inputs: every bomb, then mutations of the seeds and of the bombs, round robin."""
    from benchmarks.bombs import bombs

    rng = np.random.default_rng(seed)
    crafted = bombs(inflate_bytes)
    pool = list(seed_files().items()) + [(k, v) for k, v in crafted.items() if len(v) < 2**20]
    yield from crafted.items()
    for i in range(max(0, n - len(crafted))):
        name, data = pool[i % len(pool)]
        kind, mutated = mutate(data, rng)
        yield f"{name}/{kind}", mutated
