"""Format detection from content: magic numbers, byte orders, compressed NIfTI."""

from __future__ import annotations

import gzip
import io

import nibabel as nib
import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from core.errors import LoadError
from core.io import detect_format, load_image


def _nifti_bytes(image_cls, endianness: str = "<") -> bytes:
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    header = image_cls.header_class(endianness=endianness)
    img = image_cls(data, np.eye(4), header)
    return img.to_bytes()


@pytest.mark.parametrize("endianness", ["<", ">"])
def test_nifti_both_byte_orders_plain_and_gzipped(endianness):
    for image_cls, kind in ((nib.Nifti1Image, "nifti1"), (nib.Nifti2Image, "nifti2")):
        raw = _nifti_bytes(image_cls, endianness)
        assert detect_format(raw) == kind
        assert detect_format(gzip.compress(raw)) == kind
        img = load_image(gzip.compress(raw))
        np.testing.assert_array_equal(img.volume, np.arange(24).reshape(2, 3, 4))


def test_nifti_pair_header_is_recognised():
    header = nib.Nifti1Pair(np.zeros((2, 2, 2), np.int16), np.eye(4)).header
    assert detect_format(header.binaryblock) == "nifti1-pair"


@pytest.mark.parametrize("fmt, kind", [("PNG", "png"), ("JPEG", "jpeg"), ("TIFF", "tiff")])
def test_raster_magics(fmt, kind):
    buf = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(buf, fmt)
    assert detect_format(buf.getvalue()) == kind


def test_dicom_and_lookalikes():
    ct = open(get_testdata_file("CT_small.dcm"), "rb").read()
    assert detect_format(ct) == "dicom"
    # The marker decides the format; the loader then finds nothing behind it.
    assert detect_format(b"\x00" * 128 + b"DICM") == "dicom"
    with pytest.raises(LoadError):
        load_image(b"\x00" * 128 + b"DICM")
    # A preamble-less dataset without pixel data is not taken for an image.
    assert detect_format(open(get_testdata_file("ExplVR_LitEndNoMeta.dcm"), "rb").read()) == "unknown"
    assert detect_format(b"\x08\x00" + bytes(range(200))) == "unknown"
    assert detect_format(gzip.compress(b"plain text, not a NIfTI")) == "unknown"
    assert detect_format(b"") == "unknown"
