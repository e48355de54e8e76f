"""Decoder bombs are refused before decoding, and the loader's memory stays bounded.

Each load runs in a forked child with an address-space limit (``RLIMIT_AS``
= its size at the fork + 1 GiB): a decoder that allocated what a bomb's
header claims would hit MemoryError there ("memory"), not LoadError.
"""

from __future__ import annotations

import io

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.encaps import generate_frames

from benchmarks.bench_fuzz import run_isolated
from benchmarks.bombs import bombs, deflate_zeros
from benchmarks.hostile import DICOM_SEEDS, seed_files
from core.errors import LoadError
from core.io import DEFAULT_MAX_PIXELS, load_image
from core.io.codestream import j2k_header, jpeg_header, rle_segment_offsets

GIB = 2**30
# The memory bound below holds for this pixel limit: 16 Mpx, a 4096 x 4096 radiograph.
BOUNDED_MAX_PIXELS = 2**24


@pytest.fixture(scope="module")
def crafted():
    return bombs(inflate_bytes=2**26)


def test_crafted_bombs_cover_every_format(crafted):
    families = {name.split("_")[0] + ("_" + name.split("_")[1] if name.startswith("dicom") else "")
                for name in crafted}
    assert families >= {"dicom_jpeg", "dicom_jpegls", "dicom_j2k", "dicom_rle", "dicom_deflate", "dicom_native",
                        "png", "jpeg", "tiff", "nifti", "nifti2"}
    assert all(len(data) < 10 * 2**20 for data in crafted.values())


def test_every_bomb_is_refused_cheaply_under_an_address_space_limit(crafted):
    outcomes = list(run_isolated(crafted.items(), max_pixels=DEFAULT_MAX_PIXELS, timeout=60, address_space=GIB))
    by_name = {o.name: o for o in outcomes}
    # A bounded read of a gzip bomb may legitimately succeed (the header's voxels are all it reads).
    allowed_ok = {"nifti_gz_bomb"}
    for o in outcomes:
        assert o.result == "LoadError" or (o.result == "ok" and o.name in allowed_ok), (o.name, o.result, o.detail)
        assert o.growth_mib < 128, (o.name, o.growth_mib)
    for name in ("dicom_jpeg_sof_huge", "dicom_jpeg_lossless_sof", "dicom_jpegls_sof55", "dicom_j2k_siz",
                 "dicom_jpegls_lse_oversize"):
        assert "refused before decoding" in by_name[name].detail and "limit" in by_name[name].detail
    assert "4096x4096 pixels but the DICOM header 100x100" in by_name["dicom_jpeg_sof_mismatch"].detail
    assert "15 segments" in by_name["dicom_rle_segments"].detail
    for name in ("dicom_deflate_pixels", "dicom_deflate_trailer", "dicom_deflate_prefix", "png_zlib_bomb"):
        assert "decompression bomb" in by_name[name].detail
    assert by_name["dicom_deflate_pixels"].growth_mib < 64  # inflation stopped near the 9 MiB limit


def _zeros_dicom_deflated(rows: int, cols: int) -> bytes:
    """A legitimate Deflated Explicit VR 16-bit image of zeros: a tiny file, a big image."""
    ds = pydicom.dcmread(io.BytesIO(seed_files()["image_dfl.dcm"]))
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = rows, cols, 16, 16, 15
    ds.PixelData = bytes(rows * cols * 2)
    ds["PixelData"].VR = "OW"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _legit_large_inputs() -> dict[str, bytes]:
    """The largest images BOUNDED_MAX_PIXELS allows, highly compressible, each well under 10 MiB."""
    side = 4096
    out = {}
    for fmt, mode in (("PNG", "RGB"), ("JPEG", "RGB"), ("TIFF", "I;16")):
        buf = io.BytesIO()
        size = (side, side)
        image = Image.new(mode, size)
        image.save(buf, fmt, **({"compression": "tiff_adobe_deflate"} if fmt == "TIFF" else {}))
        out[f"{fmt.lower()}_{mode}_{side}"] = buf.getvalue()
    volume = nib.Nifti1Image(np.zeros((256, 256, 256), np.float32), np.eye(4))
    out["nifti_256_float"] = deflate_zeros(0, volume.to_bytes(), wbits=31)
    out["dicom_deflated_4096"] = _zeros_dicom_deflated(side, side)
    return out


def test_memory_bound_holds_for_the_largest_allowed_images():
    inputs = _legit_large_inputs()
    assert all(len(data) < 10 * 2**20 for data in inputs.values())
    outcomes = list(run_isolated(inputs.items(), max_pixels=BOUNDED_MAX_PIXELS, timeout=120, address_space=GIB))
    for o in outcomes:
        assert o.result == "ok", (o.name, o.result, o.detail)
        assert o.growth_mib < 1024, (o.name, o.growth_mib)
    # ... and one pixel more than the limit is refused before decoding.
    with pytest.raises(LoadError, match="more than the limit"):
        load_image(inputs["png_RGB_4096"], max_pixels=BOUNDED_MAX_PIXELS - 1)


def _frames(name: str) -> list[bytes]:
    ds = pydicom.dcmread(io.BytesIO(seed_files()[name]))
    return [bytes(f) for f in generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames") or 1))]


def test_frame_headers_agree_with_pydicom_and_pillow_parsers():
    from pydicom.pixels.utils import _get_jpg_parameters

    checked = 0
    for name in DICOM_SEEDS:
        ds = pydicom.dcmread(io.BytesIO(seed_files()[name]), stop_before_pixels=True)
        syntax = ds.file_meta.TransferSyntaxUID
        if not syntax.is_compressed:
            continue
        for frame in _frames(name):
            if syntax == pydicom.uid.RLELossless:
                offsets = rle_segment_offsets(frame)
                assert len(offsets) == ds.SamplesPerPixel * ds.BitsAllocated // 8 and offsets[0] == 64
            elif syntax in pydicom.uid.JPEG2000TransferSyntaxes:
                header = j2k_header(frame)
                with Image.open(io.BytesIO(frame)) as im:  # Pillow's openjpeg reads SIZ itself
                    assert (header.columns, header.rows) == im.size
            else:
                header, oracle = jpeg_header(frame), _get_jpg_parameters(frame)
                assert (header.rows, header.columns, header.components, header.precision) == (
                    oracle["height"], oracle["width"], oracle["components"], oracle["precision"])
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize("damage", [b"", b"\xff\xd8", b"\xff\xd8\xff\xc0\x00\x05\x08", b"\xff\xd8\xff\xda\x00\x02"])
def test_jpeg_header_parser_refuses_damage(damage):
    with pytest.raises(LoadError):
        jpeg_header(damage)


def test_dnl_deferred_height_is_refused():
    frame = _frames("SC_rgb_jpeg_dcmtk.dcm")[0]
    at = frame.index(b"\xff\xc0")
    zero_height = frame[: at + 5] + b"\x00\x00" + frame[at + 7:]
    with pytest.raises(LoadError, match="DNL"):
        jpeg_header(zero_height)
