"""Multi-frame DICOM volumes: frame geometry -> canonical RAS+ volume and back.

The invariant: the canonical voxel that the volume's affine puts at the
patient position of frame i, row r, column c (computed from the DICOM
geometry, PS3.3 C.7.6.2.1.1) holds exactly that frame pixel's value.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from core.io import load_image

ROW_DIR = np.array([0.0, 1.0, 0.0])   # columns run towards posterior
COL_DIR = np.array([0.0, 0.0, -1.0])  # rows run towards inferior: a sagittal plane
SPACING = (0.5, 0.75)                 # (between rows, between columns)
POSITIONS = np.array([[10.0, -20.0, 30.0], [14.0, -20.0, 30.0], [6.0, -20.0, 30.0], [2.0, -20.0, 30.0]])
SLOPES = [1.0, 2.0, 0.5, 3.0]


def _lps_position(ipp: np.ndarray, row: int, col: int) -> np.ndarray:
    return ipp + col * SPACING[1] * ROW_DIR + row * SPACING[0] * COL_DIR


def _enhanced(tmp_path, positions=POSITIONS) -> tuple[str, np.ndarray]:
    """An enhanced-style multi-frame file: geometry and rescale only in functional groups."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    base = ds.pixel_array.astype(np.int16)
    stored = np.stack([np.roll(base, 5 * i, axis=1) for i in range(len(positions))])
    for key in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness",
                "WindowCenter", "WindowWidth", "RescaleSlope", "RescaleIntercept"):
        if key in ds:
            delattr(ds, key)
    ds.NumberOfFrames = len(positions)
    ds.PixelData = stored.tobytes()
    shared = Dataset()
    measures, orientation = Dataset(), Dataset()
    measures.PixelSpacing = list(SPACING)
    measures.SliceThickness = 4.0
    orientation.ImageOrientationPatient = [*ROW_DIR, *COL_DIR]
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orientation])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for pos, slope in zip(positions, SLOPES):
        item, plane, pvt = Dataset(), Dataset(), Dataset()
        plane.ImagePositionPatient = [float(v) for v in pos]
        pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = slope, -100.0, "US"
        item.PlanePositionSequence = Sequence([plane])
        item.PixelValueTransformationSequence = Sequence([pvt])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    path = tmp_path / "enhanced.dcm"
    ds.save_as(path, enforce_file_format=True)
    return str(path), stored


def _assert_world_consistent(img, frame_positions, row_dir, col_dir, spacing):
    """Every frame pixel sits in the canonical volume where its DICOM position says."""
    inverse = np.linalg.inv(img.affine)
    n_frames, rows, cols = img.frames_data.shape
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    for i in range(n_frames):
        lps = (frame_positions[i][None, None] + c[..., None] * spacing[1] * row_dir
               + r[..., None] * spacing[0] * col_dir)
        ras = lps * [-1, -1, 1]
        ijk = np.rint(ras @ inverse[:3, :3].T + inverse[:3, 3]).astype(int)
        np.testing.assert_array_equal(img.volume[ijk[..., 0], ijk[..., 1], ijk[..., 2]], img.frames_data[i])


def test_enhanced_frames_use_per_frame_rescale_and_geometry(tmp_path):
    path, stored = _enhanced(tmp_path)
    img = load_image(path)
    for i, slope in enumerate(SLOPES):
        np.testing.assert_allclose(img.frame(i), stored[i] * slope - 100.0)
    assert img.is_volume and img.metadata["FrameOrder"] == "sorted by position"
    assert img.spacing == (0.5, 0.75, 4.0)
    _assert_world_consistent(img, POSITIONS, ROW_DIR, COL_DIR, SPACING)
    # Sagittal source planes: the canonical X axis (R) runs across the frames.
    assert img.volume.shape == (4, 64, 64) and img.n_slices("sagittal") == 4


def test_rtdose_grid_is_world_consistent():
    ds = pydicom.dcmread(get_testdata_file("rtdose.dcm"))
    img = load_image(get_testdata_file("rtdose.dcm"))
    iop = np.array([float(v) for v in ds.ImageOrientationPatient])
    origin = np.array([float(v) for v in ds.ImagePositionPatient])
    normal = np.cross(iop[:3], iop[3:])
    positions = [origin + float(off) * normal for off in ds.GridFrameOffsetVector]
    _assert_world_consistent(img, positions, iop[:3], iop[3:], [float(v) for v in ds.PixelSpacing])


def test_irregular_frames_stay_a_frame_stack(tmp_path):
    irregular = POSITIONS.copy()
    irregular[3] = [-5.0, -20.0, 30.0]  # a 7 mm gap among 4 mm steps
    img = load_image(_enhanced(tmp_path, irregular)[0])
    assert not img.is_volume and img.n_frames == 4


def test_dicom_volume_mask_overlays_the_dicom_geometry(tmp_path):
    path, _ = _enhanced(tmp_path)
    img = load_image(path)
    mask = np.zeros(img.spatial_shape, bool)
    mask[1, 10, 20] = True
    saved = nib.load(img.save_mask_nifti(mask, tmp_path / "mask.nii.gz"))
    voxel = np.argwhere(np.asarray(saved.dataobj))[0]
    world_saved = saved.affine @ [*voxel, 1]
    world_canonical = img.affine @ [1, 10, 20, 1]
    np.testing.assert_allclose(world_saved, world_canonical, atol=1e-6)
    # The saved grid is the DICOM's own (column, row, position-sorted frame) grid.
    col, row = voxel[0], voxel[1]
    frame_pos = sorted(POSITIONS.tolist(), key=lambda p: np.dot(p, np.cross(ROW_DIR, COL_DIR)))[voxel[2]]
    expected_lps = _lps_position(np.array(frame_pos), row, col)
    np.testing.assert_allclose(world_saved[:3], expected_lps * [-1, -1, 1], atol=1e-6)


@pytest.mark.parametrize("axis", ["axial", "coronal", "sagittal"])
def test_dicom_volume_slices_render(tmp_path, axis):
    img = load_image(_enhanced(tmp_path)[0])
    out = img.render(0, axis=axis)
    assert out.shape == img.slice(0, axis).shape and 0 <= out.min() and out.max() <= 1
