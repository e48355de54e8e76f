"""``python -m core inspect``: JSON and table output, one-line errors."""

from __future__ import annotations

import json

from pydicom.data import get_testdata_file

from conftest import run_cli


def test_inspect_ct_small_json(workspace):
    result = run_cli("inspect", get_testdata_file("CT_small.dcm"), "--json", "--window", "lung")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["format"] == "dicom" and info["modality"] == "CT"
    assert info["shape"] == [1, 128, 128] and info["frame_shape"] == [128, 128]
    assert info["spacing_mm"] == [0.661468, 0.661468]
    assert info["window"] == {"name": "lung", "center": -600, "width": 1500, "function": "LINEAR", "lut": False}
    assert info["metadata"]["TransferSyntax"] == "Explicit VR Little Endian"
    assert "PatientName" not in info["metadata"] and "PatientID" not in info["metadata"]


def test_inspect_table_and_phi_flag(workspace):
    plain = run_cli("inspect", get_testdata_file("CT_small.dcm"))
    assert plain.returncode == 0 and "modality" in plain.stdout and "PatientName" not in plain.stdout
    phi = run_cli("inspect", get_testdata_file("CT_small.dcm"), "--include-phi", "--json")
    assert json.loads(phi.stdout)["metadata"]["PatientName"] == "CompressedSamples^CT1"


def test_inspect_bad_file_is_one_error_line(workspace, tmp_path):
    bad = tmp_path / "scan.dcm"
    bad.write_text("this is not an image\n")
    result = run_cli("inspect", str(bad))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: scan.dcm:") and "Traceback" not in result.stderr
    missing = run_cli("inspect", str(tmp_path / "absent.nii"))
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == ["error: absent.nii: file not found"]


def test_inspect_damaged_files_give_only_the_error_line(workspace, tmp_path):
    import io

    import nibabel as nib
    import numpy as np
    from PIL import Image

    png = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 65535, (64, 64), dtype=np.uint16)).save(png, "PNG")
    (tmp_path / "cut.png").write_bytes(png.getvalue()[:-200])
    nan = np.ones((4, 4, 4), np.float32)
    nan[0, 0, 0] = np.nan
    nib.save(nib.Nifti1Image(nan, np.eye(4)), tmp_path / "nan.nii.gz")
    for name, expected in (("cut.png", "damaged or truncated"), ("nan.nii.gz", "NaN")):
        result = run_cli("inspect", str(tmp_path / name), "--json")
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert lines[0].startswith(f"error: {name}:") and expected in lines[0]
