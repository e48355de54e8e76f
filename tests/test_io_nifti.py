"""NIfTI loading, canonical orientation, display slices and mask write-back."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from core.errors import LoadError
from core.io import AXES, detect_format, load_image
from core.io.orientation import display_slice

NIB_DATA = Path(nib.__file__).parent / "tests" / "data"

# Source voxel axes run to patient Left, Posterior, Superior (an LPS-style
# grid, as DICOM converters often write), with unequal voxel sizes.
LPS_AFFINE = np.array([[-2.0, 0, 0, 30], [0, -3.0, 0, 40], [0, 0, 4.0, -50], [0, 0, 0, 1]])
SHAPE = (6, 7, 5)


def _world(affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(I, J, K, 3) RAS+ mm of every voxel centre."""
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1)
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def _write(data, affine, path, **header) -> Path:
    img = nib.Nifti1Image(data, affine)
    for key, value in header.items():
        img.header[key] = value
    nib.save(img, path)
    return Path(path)


@pytest.fixture
def lps_file(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(size=SHAPE).astype(np.float32)
    return _write(data, LPS_AFFINE, tmp_path / "lps.nii.gz"), data


def test_canonical_volume_matches_nibabel(lps_file):
    path, _ = lps_file
    img = load_image(path)
    canonical = nib.as_closest_canonical(nib.load(path))
    np.testing.assert_array_equal(img.volume, canonical.get_fdata(dtype=np.float32))
    np.testing.assert_allclose(img.affine, canonical.affine)
    np.testing.assert_allclose(img.source_affine, LPS_AFFINE)
    assert img.metadata["SourceOrientation"] == "LPS"
    assert img.zooms == pytest.approx((2.0, 3.0, 4.0))
    assert img.spacing == pytest.approx((3.0, 2.0, 4.0))


@pytest.mark.parametrize("coordinate, axis, direction", [
    (0, "axial", ("cols", +1)),      # patient's right on the viewer's right
    (1, "axial", ("rows", -1)),      # anterior at the top
    (0, "coronal", ("cols", +1)),
    (2, "coronal", ("rows", -1)),    # superior at the top
    (1, "sagittal", ("cols", -1)),   # anterior on the viewer's left
    (2, "sagittal", ("rows", -1)),
])
def test_display_orientation_follows_world_axes(tmp_path, coordinate, axis, direction):
    # Each voxel holds its own R, A or S coordinate, so display directions can be read off.
    data = _world(LPS_AFFINE, SHAPE)[..., coordinate].astype(np.float32)
    img = load_image(_write(data, LPS_AFFINE, tmp_path / "coords.nii"))
    where, sign = direction
    for index in range(img.n_slices(axis)):
        plane = img.slice(index, axis)
        steps = np.diff(plane, axis=1 if where == "cols" else 0)
        assert np.all(np.sign(steps) == sign)


def test_display_shapes_and_spacing(lps_file):
    img = load_image(lps_file[0])
    assert img.slice(0, "axial").shape == (7, 6)
    assert img.slice(0, "coronal").shape == (5, 6)
    assert img.slice(0, "sagittal").shape == (5, 7)
    assert img.slice_spacing("axial") == pytest.approx((3.0, 2.0))
    assert img.slice_spacing("sagittal") == pytest.approx((4.0, 3.0))
    assert img.n_frames == 5 and np.array_equal(img.frame(2), img.slice(2, "axial"))


@pytest.mark.parametrize("axis", AXES)
def test_slices_to_volume_inverts_display(lps_file, axis):
    img = load_image(lps_file[0])
    rng = np.random.default_rng(1)
    shape = img.slice(0, axis).shape
    masks = {i: rng.random(shape) > 0.5 for i in range(0, img.n_slices(axis), 2)}
    volume = img.slices_to_volume(masks, axis)
    assert volume.shape == img.spatial_shape and volume.dtype == bool
    for i in range(img.n_slices(axis)):
        np.testing.assert_array_equal(display_slice(volume, i, axis), masks.get(i, np.zeros(shape, bool)))


def test_saved_mask_lands_on_the_original_files_voxels(lps_file, tmp_path):
    path, data = lps_file
    img = load_image(path)
    # Mark the top-right pixel of the highest axial slice: the most anterior,
    # right-most, most superior voxel.
    mask2d = np.zeros(img.slice(0, "axial").shape, bool)
    mask2d[0, -1] = True
    top = img.n_slices("axial") - 1
    out = img.save_mask_nifti(img.slices_to_volume({top: mask2d}), tmp_path / "mask.nii.gz")
    saved = nib.load(out)
    np.testing.assert_allclose(saved.affine, LPS_AFFINE)
    assert saved.shape == SHAPE and saved.get_data_dtype() == np.uint8
    voxels = np.argwhere(np.asarray(saved.dataobj))
    # Source axes run L, P, S: right-most is i=0, anterior-most j=0, superior-most k=K-1.
    assert voxels.tolist() == [[0, 0, SHAPE[2] - 1]]
    world = _world(LPS_AFFINE, SHAPE)
    marked = world[0, 0, SHAPE[2] - 1]
    assert marked[0] == world[..., 0].max() and marked[1] == world[..., 1].max()
    assert marked[2] == world[..., 2].max()
    assert not list(tmp_path.glob(".*tmp*"))


def test_saved_mask_round_trips_through_the_loader(lps_file, tmp_path):
    img = load_image(lps_file[0])
    rng = np.random.default_rng(2)
    mask = rng.random(img.spatial_shape) > 0.7
    reloaded = load_image(img.save_mask_nifti(mask, tmp_path / "m.nii"))
    np.testing.assert_array_equal(reloaded.volume > 0.5, mask)


@pytest.mark.parametrize("name, shape", [("anatomical.nii", (33, 41, 25)), ("example4d.nii.gz", (128, 96, 24, 2)),
                                         ("example_nifti2.nii.gz", (32, 20, 12, 2)), ("functional.nii", (17, 21, 3, 20))])
def test_bundled_files(name, shape):
    path = NIB_DATA / name
    img = load_image(path)
    ref = nib.as_closest_canonical(nib.load(path))
    assert img.volume.shape == shape and img.format == "nifti"
    np.testing.assert_allclose(img.volume, ref.get_fdata(dtype=np.float32))
    if len(shape) == 4:
        assert img.n_timepoints == shape[3]
        np.testing.assert_array_equal(img.slice(3, "coronal", t=1), np.asarray(img.volume[:, 3, ::-1, 1]).T)
    out = img.render(img.n_frames // 2)
    assert out.min() >= 0 and out.max() <= 1


def test_scaling_is_applied(tmp_path):
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_slope_inter(0.5, -10)
    nib.save(img, tmp_path / "s.nii")
    loaded = load_image(tmp_path / "s.nii")
    np.testing.assert_allclose(loaded.volume, data * 0.5 - 10)


def test_bytes_upload_and_detection(lps_file):
    raw = lps_file[0].read_bytes()
    assert detect_format(raw) == "nifti1"
    assert detect_format(gzip.decompress(raw)) == "nifti1"
    img = load_image(raw, name="upload.nii.gz")
    assert img.name == "upload.nii.gz" and img.volume.shape == SHAPE
    assert detect_format((NIB_DATA / "example_nifti2.nii.gz").read_bytes()) == "nifti2"


def test_nan_nifti_is_rejected(tmp_path):
    data = np.ones((3, 3, 3), np.float32)
    data[1, 1, 1] = np.nan
    with pytest.raises(LoadError, match="NaN"):
        load_image(_write(data, np.eye(4), tmp_path / "nan.nii"))
    data[1, 1, 1] = np.inf
    with pytest.raises(LoadError, match="NaN/infinite"):
        load_image(_write(data, np.eye(4), tmp_path / "inf.nii"))


def test_zero_sized_dimension_is_rejected(tmp_path):
    raw = bytearray(_write(np.ones((3, 3, 3), np.int16), np.eye(4), tmp_path / "z.nii").read_bytes())
    raw[44:46] = (0).to_bytes(2, "little")  # dim[2] = 0
    with pytest.raises(LoadError, match="empty dimension"):
        load_image(bytes(raw))


def test_gzip_bomb_is_refused_from_the_header(tmp_path):
    header = nib.Nifti1Header()
    header.set_data_shape((4000, 4000, 4000))
    header.set_data_dtype(np.uint8)
    raw = header.binaryblock + b"\x00" * 4
    bomb = gzip.compress(raw + b"\x00" * 10_000_000)  # a 10 MB zero run compresses to ~10 KB
    with pytest.raises(LoadError, match="limit"):
        load_image(bomb)


def test_truncated_nifti(tmp_path):
    data = np.random.default_rng(3).normal(size=(8, 8, 8)).astype(np.float32)
    raw = _write(data, np.eye(4), tmp_path / "t.nii").read_bytes()
    with pytest.raises(LoadError, match="truncated"):
        load_image(raw[:-100])
    with pytest.raises(LoadError, match="truncated"):
        load_image(gzip.compress(raw)[:-300])


def test_nifti_pair_from_path(tmp_path):
    data = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    nib.save(nib.Nifti1Pair(data, np.eye(4)), tmp_path / "pair.hdr")
    img = load_image(tmp_path / "pair.hdr")
    np.testing.assert_array_equal(img.volume, data)
    np.testing.assert_array_equal(load_image(tmp_path / "pair.img").volume, data)
    with pytest.raises(LoadError, match=r"\.img"):
        load_image((tmp_path / "pair.hdr").read_bytes())


def test_mask_keeps_the_sources_qform_and_sform(tmp_path):
    data = np.zeros((4, 5, 6), np.int16)
    img = nib.Nifti1Image(data, LPS_AFFINE)
    shifted = LPS_AFFINE.copy()
    shifted[:3, 3] += [1.0, 2.0, 3.0]
    img.header.set_qform(shifted, code=1)
    img.header.set_sform(LPS_AFFINE, code=2)
    nib.save(img, tmp_path / "two.nii")
    loaded = load_image(tmp_path / "two.nii")
    mask = np.zeros(loaded.spatial_shape, bool)
    mask[0, 0, 0] = True
    saved = nib.load(loaded.save_mask_nifti(mask, tmp_path / "mask.nii")).header
    q, qcode = saved.get_qform(coded=True)
    s_, scode = saved.get_sform(coded=True)
    assert (int(qcode), int(scode)) == (1, 2)
    np.testing.assert_allclose(q, shifted, atol=1e-5)
    np.testing.assert_allclose(s_, LPS_AFFINE, atol=1e-5)
