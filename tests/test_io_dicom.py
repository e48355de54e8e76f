"""DICOM loading on pydicom's bundled files and on files these tests write."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import convert_color_space
from pydicom.uid import UID

from core.errors import LoadError
from core.io import DICOM_PHI_ATTRIBUTES, DICOM_SAFE_ATTRIBUTES, MedicalImage, load_image


def sample(name: str) -> str:
    return get_testdata_file(name)


def write(ds, path) -> str:
    ds.save_as(path, enforce_file_format=True)
    return str(path)


def test_ct_small_is_in_hounsfield_units():
    ds = pydicom.dcmread(sample("CT_small.dcm"))
    img = load_image(sample("CT_small.dcm"))
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert img.format == "dicom" and img.modality == "CT" and img.photometric == "MONOCHROME2"
    assert img.n_frames == 1 and img.frame_shape == (128, 128)
    assert img.frame(0).dtype == np.float32
    np.testing.assert_allclose(img.frame(0), expected, atol=1e-3)
    assert img.spacing == tuple(float(v) for v in ds.PixelSpacing)
    assert not img.is_volume


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
                                  "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "MR_small_expb.dcm"])
def test_lossless_encodings_decode_to_the_same_pixels(name):
    reference = load_image(sample("MR_small.dcm"))
    img = load_image(sample(name))
    np.testing.assert_array_equal(img.frame(0), reference.frame(0))
    assert img.default_window == reference.default_window


@pytest.mark.parametrize("name", ["JPGExtended.dcm", "JPEG2000.dcm", "JPEGLSNearLossless_16.dcm",
                                  "SC_rgb_jpeg_gdcm.dcm", "examples_jpeg2k.dcm", "image_dfl.dcm"])
def test_compressed_syntaxes_that_decode_here(name):
    img = load_image(sample(name))
    out = img.render()
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("name, syntax", [("GDCMJ2K_TextGBR.dcm", "JPEG 2000"),
                                          ("JPEG-lossy.dcm", "JPEG Extended")])
def test_damaged_compressed_data_names_the_syntax(name, syntax):
    with pytest.raises(LoadError, match=syntax):
        load_image(sample(name))


@pytest.mark.parametrize("uid", ["1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.100"])
def test_undecodable_transfer_syntax_is_named(tmp_path, uid):
    ds = pydicom.dcmread(sample("MR_small_jp2klossless.dcm"))
    ds.file_meta.TransferSyntaxUID = UID(uid)
    path = write(ds, tmp_path / "x.dcm")
    with pytest.raises(LoadError) as info:
        load_image(path)
    message = str(info.value)
    assert uid in message and UID(uid).name in message and "cannot decode" in message
    assert "\n" not in message
    if uid.endswith(".201"):  # HTJ2K: the message names the package that would decode it
        assert "pylibjpeg-openjpeg" in message


def test_ybr_full_422_becomes_rgb():
    ds = pydicom.dcmread(sample("SC_ybr_full_422_uncompressed.dcm"))
    from pydicom.pixels import pixel_array

    ybr = pixel_array(ds, as_rgb=False)
    expected = convert_color_space(ybr, "YBR_FULL", "RGB")
    img = load_image(sample("SC_ybr_full_422_uncompressed.dcm"))
    assert img.photometric == "RGB" and img.frame_shape == (100, 100, 3)
    np.testing.assert_array_equal(img.frame(0), expected.astype(np.float32))


def test_jpeg_ybr_and_rgb_encodings_of_one_image_agree():
    rgb = load_image(sample("SC_rgb_dcmtk_+eb+cr.dcm")).frame(0)
    ybr = load_image(sample("SC_rgb_dcmtk_+eb+cy+n1.dcm")).frame(0)
    # Same picture, lossy JPEG in two colour spaces: close, not identical.
    assert np.abs(rgb - ybr).mean() < 3.0
    np.testing.assert_array_equal(load_image(sample("SC_rgb_dcmtk_+eb+cr.dcm")).render(), rgb / 255.0)


def test_multiframe_rgb_and_16bit_rgb():
    img = load_image(sample("examples_ybr_color.dcm"))
    assert img.n_frames == 30 and img.frame(29).shape == (240, 320, 3)
    img16 = load_image(sample("SC_rgb_rle_16bit_2frame.dcm"))
    raw = pydicom.dcmread(sample("SC_rgb_rle_16bit_2frame.dcm")).pixel_array
    assert img16.n_frames == 2 and img16.frames_data.max() > 255
    np.testing.assert_array_equal(img16.frame(1), raw[1].astype(np.float32))
    np.testing.assert_allclose(img16.render(1), raw[1] / 65535.0, atol=1e-6)


def test_palette_colour_is_expanded():
    img = load_image(sample("examples_palette.dcm"))
    assert img.photometric == "RGB" and img.frame_shape == (350, 800, 3)


def test_multiframe_dose_grid_is_a_canonical_volume():
    ds = pydicom.dcmread(sample("rtdose.dcm"))
    img = load_image(sample("rtdose.dcm"))
    dose = ds.pixel_array * float(ds.DoseGridScaling)
    np.testing.assert_allclose(img.frames_data, dose, rtol=1e-6)
    assert img.is_volume and img.volume.shape == (10, 10, 15)
    assert img.spacing == (10.0, 10.0, 5.0)
    # IOP 1\0\0\0\1\0: columns run to the patient's left, rows to posterior,
    # frames to superior.  Display: anterior up (as stored), patient's right
    # on the viewer's right (mirrored columns), axial slice k = frame k.
    for k in (0, 7, 14):
        np.testing.assert_array_equal(img.slice(k, "axial"), img.frame(k)[:, ::-1])
    origin = img.affine @ [0, 0, 0, 1]
    # The canonical first voxel is the right-most, posterior-most, lowest one.
    assert origin[0] == pytest.approx(-(189.43125 + 90)) and origin[2] == pytest.approx(-761.87)


def test_monochrome1_is_inverted_after_windowing(tmp_path):
    ds = pydicom.dcmread(sample("MR_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    mono1 = load_image(write(ds, tmp_path / "m1.dcm"))
    mono2 = load_image(sample("MR_small.dcm"))
    np.testing.assert_allclose(mono1.render(), 1.0 - mono2.render(), atol=1e-6)


def test_pixel_spacing_falls_back_to_imager_pixel_spacing(tmp_path):
    ds = pydicom.dcmread(sample("MR_small.dcm"))
    del ds.PixelSpacing
    ds.ImagerPixelSpacing = [0.25, 0.5]
    img = load_image(write(ds, tmp_path / "cr.dcm"))
    assert img.spacing == (0.25, 0.5) and img.metadata["SpacingSource"] == "ImagerPixelSpacing"


def test_metadata_is_deidentified_unless_asked(tmp_path):
    ds = pydicom.dcmread(sample("CT_small.dcm"))
    secrets = {"PatientName": "Doe^Janet", "PatientID": "PID-4471923", "PatientBirthDate": "19440117",
               "InstitutionName": "Saint Elsewhere Hospital", "ReferringPhysicianName": "House^Gregory",
               "AccessionNumber": "ACC99812", "StudyDate": "20190305"}
    for key, value in secrets.items():
        setattr(ds, key, value)
    path = write(ds, tmp_path / "phi.dcm")
    img = load_image(path)
    text = " ".join(f"{k}={v}" for k, v in img.metadata.items())
    for value in [*secrets.values(), str(ds.SOPInstanceUID), str(ds.StudyInstanceUID)]:
        assert value not in text
    allowed = set(DICOM_SAFE_ATTRIBUTES) | {"TransferSyntax", "SOPClass", "SpacingSource", "FrameOrder"}
    assert set(img.metadata) <= allowed
    assert img.metadata["Modality"] == "CT"
    with_phi = load_image(path, include_phi=True)
    assert with_phi.metadata["PatientID"] == "PID-4471923"
    assert with_phi.metadata["PatientName"] == "Doe^Janet"
    assert set(with_phi.metadata) <= allowed | set(DICOM_PHI_ATTRIBUTES)


def test_dicom_without_pixel_data(tmp_path):
    ds = pydicom.dcmread(sample("CT_small.dcm"))
    del ds.PixelData
    with pytest.raises(LoadError, match="CT Image Storage file has no pixel data: it is truncated"):
        load_image(write(ds, tmp_path / "nopix.dcm"))
    with pytest.raises(LoadError, match=r"no pixel data \(RT Plan Storage\); open an image file"):
        load_image(sample("rtplan.dcm"))


def test_preamble_less_dicom_is_accepted(tmp_path):
    ds = pydicom.dcmread(sample("CT_small.dcm"))
    path = tmp_path / "raw.dcm"
    ds.preamble = None
    pydicom.dcmwrite(path, ds, enforce_file_format=False)
    raw = path.read_bytes()
    assert raw[128:132] != b"DICM"
    np.testing.assert_array_equal(load_image(raw).frame(0), load_image(sample("CT_small.dcm")).frame(0))


def test_pixel_limit_is_checked_before_decoding(tmp_path):
    with pytest.raises(LoadError, match="limit"):
        load_image(sample("CT_small.dcm"), max_pixels=128 * 128 - 1)
    ds = pydicom.dcmread(sample("MR_small.dcm"))
    ds.Rows = ds.Columns = 60000
    ds.NumberOfFrames = 500  # 1.8e12 pixels promised, 8 KB present
    with pytest.raises(LoadError, match="limit"):
        load_image(write(ds, tmp_path / "bomb.dcm"))


def test_truncated_sample_is_a_load_error():
    with pytest.raises(LoadError, match="truncated"):
        load_image(sample("MR_truncated.dcm"))


def test_image_is_read_only():
    img: MedicalImage = load_image(sample("CT_small.dcm"))
    with pytest.raises(ValueError):
        img.frames_data[0, 0, 0] = 1.0
