"""BraTS and VinDr-CXR loaders on tiny fixture folders written here with nibabel, pydicom and csv."""

from __future__ import annotations

import csv

import nibabel as nib
import numpy as np
import pytest

from core.errors import ConfigError, LoadError
from core.fewshot import split_by_group
from core.fewshot.datasets.brats import load_brats
from core.fewshot.datasets.vindr import VINDR_COLUMNS, boxes_to_mask, load_vindr


# ------------------------------------------------------------------------------ BraTS
SHAPE = (24, 20, 6)


def _case(root, name, label, affine_flip=False, seg_override=None, skip=()):
    """A case whose tumour (one label) is a block; FLAIR is bright exactly on the tumour."""
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    seg = np.zeros(SHAPE, np.int16)
    seg[4:16, 5:15, 1:5] = 2  # oedema around
    core = (slice(7, 13), slice(7, 13), slice(1, 5))
    seg[core] = label
    if seg_override is not None:
        seg = seg_override
    affine = np.diag([1.0, 1.0, 2.0, 1.0])
    case = root / name
    case.mkdir(parents=True)
    vols = {
        "t1": rng.random(SHAPE),
        "t1ce": rng.random(SHAPE) * 0.2 + (seg == label) * 1.0,
        "flair": rng.random(SHAPE) * 0.2 + (seg > 0) * 1.0,
        "t2": rng.random(SHAPE) * 0.2 + (seg == 2) * 1.0,
    }
    for key, vol in {**vols, "seg": seg}.items():
        if key in skip:
            continue
        data, aff = vol, affine
        if affine_flip and key == "seg":
            # Same anatomy stored in the opposite x order: the header says so.
            data = vol[::-1].copy()
            aff = affine.copy()
            aff[0, 0] = -1.0
            aff[0, 3] = SHAPE[0] - 1
        dtype = np.int16 if key == "seg" else np.float32
        nib.save(nib.Nifti1Image(np.asarray(data, dtype), aff), case / f"{name}_{key}.nii.gz")
    return case


def test_brats_slices_classes_rois_aligned(tmp_path):
    _case(tmp_path, "P001", 4)
    _case(tmp_path, "P002", 1, affine_flip=True)
    _case(tmp_path, "P003", 2)
    data = load_brats(tmp_path, size=32, min_voxels=50)
    assert data.images.shape[1:] == (3, 32, 32)
    # 4 tumour slices per case; each has 120 tumour voxels, 36 of the core label.
    assert len(data) == 12 and data.patients() == {"P001", "P002", "P003"}
    by_case = {g: set(data.labels[[i for i, x in enumerate(data.groups) if x == g]].tolist()) for g in data.patients()}
    # Oedema (84 voxels) dominates the 36-voxel core in every slice.
    assert by_case == {"P001": {1}, "P002": {1}, "P003": {1}}
    # ROI = oedema pixels, where T2 is bright and (FLAIR bright) - aligned also for the flipped seg header.
    for case in data.patients():
        rows = [i for i, x in enumerate(data.groups) if x == case]
        t2, roi = data.images[rows, 2], data.masks[rows]
        assert float(t2[roi].mean()) > 0.8 and float(t2[~roi].mean()) < 0.3, case
    assert float(data.images.amin()) >= 0 and float(data.images.amax()) <= 1


def test_brats_dominant_label_and_thresholds(tmp_path):
    seg = np.zeros(SHAPE, np.int16)
    seg[2:20, 2:18, 2] = 4      # 288 voxels of enhancing on slice 2
    seg[2:6, 2:6, 2] = 1        # overwrite 16 with necrotic
    seg[2:8, 2:8, 4] = 1        # 36 voxels on slice 4: below 100
    _case(tmp_path, "P9", 4, seg_override=seg)
    data = load_brats(tmp_path, size=24)
    assert len(data) == 1 and data.labels.tolist() == [2]
    assert int(data.masks[0].sum()) > 0


def test_brats_errors(tmp_path):
    with pytest.raises(LoadError, match="no BraTS case folders"):
        load_brats(tmp_path)
    _case(tmp_path / "a", "P1", 4, skip=("flair",))
    with pytest.raises(LoadError, match="missing the flair volume"):
        load_brats(tmp_path / "a")
    _case(tmp_path / "b", "P2", 4, seg_override=np.zeros(SHAPE, np.int16))
    with pytest.raises(LoadError, match="segmentation is empty"):
        load_brats(tmp_path / "b")
    bad = np.zeros(SHAPE, np.int16)
    bad[1:3, 1:3, 1] = 7
    _case(tmp_path / "c", "P3", 4, seg_override=bad)
    with pytest.raises(LoadError, match="labels \\[7\\]"):
        load_brats(tmp_path / "c")
    (tmp_path / "d" / "P4").mkdir(parents=True)
    (tmp_path / "d" / "P4" / "P4_seg.nii.gz").write_bytes(b"garbage")
    for key in ("t1ce", "flair", "t2"):
        (tmp_path / "d" / "P4" / f"P4_{key}.nii.gz").write_bytes(b"garbage")
    with pytest.raises(LoadError):
        load_brats(tmp_path / "d")


# ------------------------------------------------------------------------------ VinDr
def _dicom(path, pixels, photometric="MONOCHROME2", slope=1.0, intercept=0.0, window=None):
    from pydicom.dataset import FileMetaDataset, Dataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def _vindr(root, rows, images):
    (root / "train").mkdir(parents=True)
    for image_id, kw in images.items():
        _dicom(root / "train" / f"{image_id}.dicom", **kw)
    with (root / "train.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(VINDR_COLUMNS)
        w.writerows(rows)


def _pix(value=1000):
    p = np.full((40, 50), 200, np.uint16)
    p[10:30, 10:40] = value
    return p


ROWS = [
    ("s1", "Nodule/Mass", 8, "R1", 10, 10, 19, 19),
    ("s1", "Nodule/Mass", 8, "R2", 15, 15, 24, 24),
    ("s1", "No finding", 14, "R3", "", "", "", ""),
    ("s2", "Pulmonary fibrosis", 13, "R1", 0, 0, 9, 9),
    ("s2", "Pulmonary fibrosis", 13, "R1", 30, 20, 39, 29),
    ("s2", "Nodule/Mass", 8, "R2", 40, 30, 44, 34),
    ("s3", "Lung Opacity", 7, "R2", 5, 5, 14, 14),
    ("s4", "No finding", 14, "R1", "", "", "", ""),
]


def test_vindr_classes_masks_and_windowing(tmp_path):
    _vindr(tmp_path, ROWS, {
        "s1": {"pixels": _pix(), "window": (600, 800)},
        "s2": {"pixels": _pix(), "photometric": "MONOCHROME1", "window": (600, 800)},
        "s3": {"pixels": _pix(), "slope": 2.0, "intercept": -100.0},
        "s4": {"pixels": _pix()},
    })
    data = load_vindr(tmp_path, size=50)
    assert data.groups == ["s1", "s2", "s3"]  # "No finding" study has no box of a selected class
    assert data.labels.tolist() == [0, 1, 2]  # s2: fibrosis has more boxes than the nodule
    # 40x50 padded to 50x50 (5 rows on top); union of two 10x10 boxes offset by 5 -> 175 px
    assert int(data.masks[0].sum()) == 175
    assert bool(data.masks[0][5 + 10, 10]) and not bool(data.masks[0][5 + 9, 10])
    # Window 600/800 maps 200 -> 0 and 1000 -> 1; MONOCHROME1 inverts.
    centre = data.images[0, 0, 5 + 20, 25]
    assert float(centre) == pytest.approx(1.0, abs=0.02)
    assert float(data.images[0, 0, 5 + 2, 2]) == pytest.approx(0.0, abs=0.02)
    assert float(data.images[1, 0, 5 + 20, 25]) == pytest.approx(0.0, abs=0.02)
    assert float(data.images[1, 0, 5 + 2, 2]) == pytest.approx(1.0, abs=0.02)


def test_vindr_merge_modes(tmp_path):
    _vindr(tmp_path, ROWS, {k: {"pixels": _pix(), "window": (600, 800)} for k in ("s1", "s2", "s3", "s4")})
    union = load_vindr(tmp_path, size=50, merge="union")
    major = load_vindr(tmp_path, size=50, merge="majority")
    single = load_vindr(tmp_path, size=50, merge="single", reader="R2")
    # s1 has 3 readers; only 2 boxed: a pixel needs > 1.5 votes -> the 5x5 overlap.
    assert int(major.masks[0].sum()) == 25
    assert int(single.masks[0].sum()) == 100
    assert bool((major.masks[0] <= union.masks[0]).all()) and bool((single.masks[0] <= union.masks[0]).all())
    # s2's fibrosis was boxed by R1 only; single reader R2 leaves it without ROI.
    assert int(single.masks[1].sum()) == 0
    m = boxes_to_mask([("A", 0, 0, 1, 1), ("B", 1, 1, 2, 2)], (4, 4), "single", 2)
    assert m.sum() == 4 and m[0, 0]  # most boxes tie -> smallest reader id


def test_vindr_patient_split_is_by_study(tmp_path):
    rows = [(f"s{i}", name, 0, "R1", 2, 2, 9, 9) for i in range(12)
            for name in [("Nodule/Mass", "Pulmonary fibrosis", "Lung Opacity")[i % 3]]]
    _vindr(tmp_path, rows, {f"s{i}": {"pixels": _pix(), "window": (600, 800)} for i in range(12)})
    data = load_vindr(tmp_path, size=16)
    train, test = split_by_group(data, 0.5, seed=0)
    assert train.patients().isdisjoint(test.patients()) and len(train) + len(test) == 12


def test_vindr_errors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "train.csv").write_text("image_id,class_name,x_min\ns1,Nodule/Mass,1\n")
    with pytest.raises(LoadError, match="missing the column"):
        load_vindr(tmp_path / "a")
    bad = [("s1", "Nodule/Mass", 8, "R1", "left", 1, 2, 3)]
    _vindr(tmp_path / "b", bad, {"s1": {"pixels": _pix()}})
    with pytest.raises(LoadError, match="line 2: x_min is not a number"):
        load_vindr(tmp_path / "b")
    _vindr(tmp_path / "c", ROWS, {"s1": {"pixels": _pix()}})
    with pytest.raises(LoadError, match="no DICOM for image_id s2"):
        load_vindr(tmp_path / "c")
    _vindr(tmp_path / "d", ROWS, {k: {"pixels": _pix()} for k in ("s1", "s2", "s3")})
    with pytest.raises(ConfigError, match="no rows of class"):
        load_vindr(tmp_path / "d", classes=("Nodule/Mass", "Cardiomegaly"))
    with pytest.raises(ConfigError):
        load_vindr(tmp_path / "d", merge="vote")
    with pytest.raises(LoadError):
        load_vindr(tmp_path / "missing")


# ---------------------------------------------------------------------- annotation store
def test_store_dataset_reads_labels_rois_and_groups(tmp_path, workspace):
    from PIL import Image

    from core.fewshot.datasets.store import store_dataset
    from core.store import AnnotationStore

    store = AnnotationStore(workspace)
    ids = []
    for i in range(4):
        arr = np.zeros((30, 40), np.uint8)
        arr[5:15, 10 + i:20 + i] = 200
        path = tmp_path / f"img{i}.png"
        Image.fromarray(arr).save(path)
        ids.append(store.add_image_file(path, shape=(30, 40)))
    vol = np.zeros((20, 20, 3), np.float32)
    vol[5:10, 5:10, :] = 1.0
    nib.save(nib.Nifti1Image(vol, np.eye(4)), tmp_path / "vol.nii.gz")
    slice_ids = [store.add_image_file(tmp_path / "vol.nii.gz", shape=(20, 20), slice_index=z, axis="axial")
                 for z in range(2)]
    for k, image_id in enumerate(ids + slice_ids):
        store.set_image_label(image_id, "lesion" if k % 2 else "normal", "dr-a")
    roi = np.zeros((30, 40), bool)
    roi[5:15, 10:20] = True
    store.add_roi(ids[0], "finding", roi, annotator="dr-a")
    second = np.zeros((30, 40), bool)
    second[20:25, 0:5] = True
    store.add_roi(ids[0], "other", second, annotator="dr-a")
    unlabelled = tmp_path / "unlabelled.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(unlabelled)
    store.add_image_file(unlabelled, shape=(8, 8))

    data = store_dataset(workspace, size=40)
    assert len(data) == 6 and data.class_names == ["lesion", "normal"]
    assert data.labels.tolist() == [1, 0, 1, 0, 1, 0]
    # Union of both ROIs, padded 30x40 -> 40x40 (5 rows on top).
    assert int(data.masks[0].sum()) == 100 + 25
    assert bool(data.masks[0][5 + 5, 10]) and bool(data.masks[0][5 + 20, 0])
    assert int(data.masks[1:].sum()) == 0
    # The two slices of one volume are one study; each PNG is its own.
    assert len(data.patients()) == 5 and data.groups[4] == data.groups[5]
    assert float(data.images[0, 0, 5 + 10, 15]) > 0.7 and float(data.images[0, 0, 5 + 25, 35]) < 0.1


def test_store_dataset_without_labels_is_a_clear_error(workspace):
    from core.fewshot.datasets.store import store_dataset

    with pytest.raises(LoadError, match="no images with a class label"):
        store_dataset(workspace)


def test_fewshot_command_on_a_vindr_folder(tmp_path, workspace):
    from tests.conftest import run_cli

    names = ("Nodule/Mass", "Pulmonary fibrosis", "Lung Opacity")
    rows = [(f"s{i}", names[i % 3], 0, "R1", 10 + i % 3 * 5, 10, 25 + i % 3 * 5, 25) for i in range(24)]
    _vindr(tmp_path / "vindr", rows, {f"s{i}": {"pixels": _pix(800 + 20 * i), "window": (600, 800)}
                                      for i in range(24)})
    out = tmp_path / "run"
    proc = run_cli("--workspace", str(workspace.root), "fewshot", "--dataset", "vindr", "--data-root",
                   str(tmp_path / "vindr"), "--vindr-merge", "majority", "--size", "32", "--hidden", "8",
                   "--embed-dim", "8", "--episodes", "2", "--shot", "2", "--query", "2", "--eval-episodes", "5",
                   "--cam-episodes", "1", "--out", str(out), env={"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-1500:]
    import json

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["train_patients"] + metrics["data"]["test_patients"] == 24
    assert metrics["data"]["synthetic"] is False and metrics["config"]["vindr_merge"] == "majority"
