"""Windowing: our VOI pipeline against pydicom's implementation of PS3.3 C.11."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.sequence import Sequence
from pydicom.dataset import Dataset

from core.errors import ConfigError
from core.io import WINDOW_PRESETS, Window, apply_window, auto_window, load_image


def _oracle(ds, index: int = 0) -> np.ndarray:
    """pydicom's modality LUT + VOI, mapped to [0, 1] through its own output range."""
    values = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    # Far-out probes reveal the output range pydicom maps onto.
    probes = np.concatenate([values.ravel(), [-1e9, 1e9]])
    with np.errstate(over="ignore"):
        out = apply_voi_lut(probes, ds, index=index)
    lo, hi = out[-2], out[-1]
    return ((out[:-2] - lo) / (hi - lo)).reshape(values.shape)


def _write(ds, path) -> str:
    ds.save_as(path, enforce_file_format=True)
    return str(path)


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
@pytest.mark.parametrize("center, width", [(40, 80), (-600, 1500), (400, 1800), (100.5, 1)])
def test_ct_windows_match_pydicom(tmp_path, function, center, width):
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = center, width, function
    img = load_image(_write(ds, tmp_path / "ct.dcm"))
    assert img.default_window.function == function
    np.testing.assert_allclose(img.render(), _oracle(ds), atol=1e-5)


def test_first_of_multivalued_windows_is_default(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.WindowCenter, ds.WindowWidth = [40, 400], [80, 1800]
    ds.WindowCenterWidthExplanation = ["BRAIN", "BONE"]
    img = load_image(_write(ds, tmp_path / "ct.dcm"))
    assert [w.name for w in img.windows] == ["BRAIN", "BONE"]
    np.testing.assert_allclose(img.render(), _oracle(ds, 0), atol=1e-5)
    np.testing.assert_allclose(img.render(window=img.windows[1]), _oracle(ds, 1), atol=1e-5)


def test_monochrome1_with_rescale_matches_inverted_pydicom(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.RescaleSlope, ds.RescaleIntercept = 2.5, -300
    ds.WindowCenter, ds.WindowWidth = 900, 2500
    img = load_image(_write(ds, tmp_path / "m1.dcm"))
    np.testing.assert_allclose(img.frame(0), ds.pixel_array * 2.5 - 300, atol=1e-3)
    np.testing.assert_allclose(img.render(), 1.0 - _oracle(ds), atol=1e-5)


@pytest.mark.parametrize("vr", ["US", "OW"])
def test_voi_lut_sequence_matches_pydicom(tmp_path, vr):
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    for key in ("WindowCenter", "WindowWidth"):
        if key in ds:
            delattr(ds, key)
    item = Dataset()
    n, first, bits = 1024, 100, 12
    item.LUTDescriptor = [n, first, bits]
    table = np.round(4095 * np.sqrt(np.linspace(0, 1, n))).astype("<u2")
    item.add_new(0x00283006, vr, table.tolist() if vr == "US" else table.tobytes())
    item.LUTExplanation = "SQRT"
    ds.VOILUTSequence = Sequence([item])
    path = _write(ds, tmp_path / "lut.dcm")
    img = load_image(path)
    assert img.default_window.lut is not None and img.default_window.name == "SQRT"
    ds = pydicom.dcmread(path)
    expected = apply_voi_lut(ds.pixel_array, ds) / (2**bits - 1)
    np.testing.assert_allclose(img.render(), expected, atol=1e-6)


def test_modality_lut_sequence_matches_pydicom(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    item = Dataset()
    item.LUTDescriptor = [2048, 0, 16]
    item.add_new(0x00283006, "US", (np.arange(2048) * 3 + 7).astype(np.uint16).tolist())
    item.ModalityLUTType = "US"
    ds.ModalityLUTSequence = Sequence([item])
    img = load_image(_write(ds, tmp_path / "mlut.dcm"))
    np.testing.assert_allclose(img.frame(0), apply_modality_lut(ds.pixel_array, ds), atol=1e-4)


def test_tags_absent_fall_back_to_auto():
    img = load_image(get_testdata_file("CT_small.dcm"))
    assert img.default_window.name == "auto"
    values = img.frame(0)
    lo, hi = np.percentile(values, [0.5, 99.5])
    assert img.default_window.low == pytest.approx(lo) and img.default_window.high == pytest.approx(hi)
    out = img.render()
    assert out.min() == 0.0 and out.max() == 1.0
    assert np.mean(out == 0) <= 0.01 + 1e-9 and np.mean(out == 1) <= 0.01 + 1e-9


def test_presets_and_names():
    assert WINDOW_PRESETS["brain"] == Window(40, 80, "brain")
    assert WINDOW_PRESETS["lung"] == Window(-600, 1500, "lung")
    assert WINDOW_PRESETS["soft_tissue"] == Window(40, 400, "soft_tissue")
    assert WINDOW_PRESETS["bone"] == Window(400, 1800, "bone")
    img = load_image(get_testdata_file("CT_small.dcm"))
    hu = img.frame(0)
    lung = img.render(window="lung")
    np.testing.assert_allclose(lung[hu <= -600 - 0.5 - 749.5], 0.0)
    np.testing.assert_allclose(lung[hu > -600 - 0.5 + 749.5], 1.0)
    with pytest.raises(ConfigError, match="unknown window"):
        img.render(window="sinus")


def test_window_monotone_and_bounded():
    x = np.linspace(-3000, 3000, 10001)
    for function in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        y = apply_window(x, Window(35, 420, "w", function))
        assert y.min() >= 0 and y.max() <= 1 and np.all(np.diff(y) >= 0)
        assert y[0] == pytest.approx(0, abs=1e-6) and y[-1] == pytest.approx(1, abs=1e-6)


def test_invalid_windows_are_config_errors():
    with pytest.raises(ConfigError):
        Window(0, 0.5, "narrow")  # LINEAR needs width >= 1
    with pytest.raises(ConfigError):
        Window(0, 0, "zero", "LINEAR_EXACT")
    with pytest.raises(ConfigError):
        Window(float("nan"), 10)


def test_auto_window_of_constant_image_is_valid():
    w = auto_window(np.full((4, 4), 7.0))
    assert w.center == 7.0 and w.width > 0
    assert np.all(apply_window(np.full((4, 4), 7.0), w) == 0.5)


def test_voi_lut_with_negative_first_value_on_ct(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    item = Dataset()
    item.LUTDescriptor = [2048, -1024, 12]
    item.add_new(0x00283006, "US", np.linspace(0, 4095, 2048).round().astype(np.uint16).tolist())
    ds.VOILUTSequence = Sequence([item])
    path = _write(ds, tmp_path / "ct_lut.dcm")
    ds = pydicom.dcmread(path)
    img = load_image(path)
    hu = np.rint(apply_modality_lut(ds.pixel_array, ds)).astype(np.int32)  # integral HU: slope 1
    expected = apply_voi_lut(hu, ds) / 4095.0
    np.testing.assert_allclose(img.render(), expected, atol=1e-6)
    assert 0 < img.render().mean() < 1
