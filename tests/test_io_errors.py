"""Every kind of bad input gives exactly one LoadError with a one-line message."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from core.errors import LoadError
from core.io import FORMATS, detect_format, load_image


def _one_line_load_error(source, **kwargs) -> str:
    with pytest.raises(LoadError) as info:
        load_image(source, **kwargs)
    assert type(info.value) is LoadError
    message = str(info.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


def test_missing_file(tmp_path):
    assert "not found" in _one_line_load_error(tmp_path / "nope.dcm")


def test_directory(tmp_path):
    assert "folder" in _one_line_load_error(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "empty.nii").write_bytes(b"")
    assert "empty" in _one_line_load_error(tmp_path / "empty.nii")
    assert "empty" in _one_line_load_error(b"")


def test_text_named_dcm(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("Patient notes: nothing to see here\n" * 20)
    message = _one_line_load_error(path)
    assert message.startswith("notes.dcm:") and "not a DICOM, NIfTI, PNG, JPEG or TIFF" in message


def test_random_bytes():
    rng = np.random.default_rng(0)
    for _ in range(20):
        _one_line_load_error(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())


def test_detection_uses_content_not_name(tmp_path):
    ct = open(get_testdata_file("CT_small.dcm"), "rb").read()
    path = tmp_path / "scan.png"
    path.write_bytes(ct)
    assert load_image(path).format == "dicom"
    assert detect_format(ct) == "dicom"
    assert detect_format(b"hello") == "unknown"
    assert detect_format(b"\x1f\x8b" + b"garbage") == "unknown"
    assert set(FORMATS) >= {"dicom", "nifti1", "nifti2", "png", "jpeg", "tiff", "unknown"}


def test_truncated_header_only_dicom():
    ct = open(get_testdata_file("CT_small.dcm"), "rb").read()
    _one_line_load_error(ct[:200])
    _one_line_load_error(ct[: len(ct) // 2])


def test_name_labels_bytes_uploads():
    assert _one_line_load_error(b"\x00" * 10, name="upload.dcm").startswith("upload.dcm:")
