"""Export bundles (PNG + NIfTI + manifest), de-identification, and validated idempotent import."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from core.errors import ConfigError
from core.io import load_image
from core.store import AnnotationStore, ManifestError, decode_mask, export_bundle, import_bundle
from core.workspace import Workspace

NIB_DATA = Path(nib.__file__).parent / "tests" / "data"


def disc(shape, cy, cx, r):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r * r


@pytest.fixture
def store(workspace):
    s = AnnotationStore(workspace)
    yield s
    s.close()


def populate_2d(store):
    a = store.add_image("11" * 32, "/secret/ward7/a.png", shape=(32, 40), display_name="a.png", modality="OT")
    b = store.add_image("22" * 32, "/secret/ward7/b.png", shape=(30, 30))
    r1 = store.add_roi(a, "nodule", disc((32, 40), 10, 12, 5), annotator="Dr A", geometry=[{"type": "Circle"}])
    r2 = store.add_roi(a, "mass", disc((32, 40), 20, 30, 7), annotator="Dr B")
    r3 = store.add_roi(b, "nodule", disc((30, 30), 15, 15, 9), annotator="Dr A")
    store.update_roi(r3.id, expected_version=1, annotator="Dr C", mask=disc((30, 30), 14, 15, 8))
    gone = store.add_roi(b, "artefact", disc((30, 30), 5, 5, 3), annotator="Dr A")
    store.delete_roi(gone.id, annotator="Dr A")
    store.set_image_label(a, "nodule/mass", "Dr A")
    return a, b, [r1, r2, r3]


def test_export_writes_pngs_and_a_manifest(store, tmp_path):
    populate_2d(store)
    result = export_bundle(store, tmp_path / "bundle")
    assert (result.n_images, result.n_rois, result.n_volumes) == (2, 3, 0)
    doc = json.loads(result.manifest.read_text())
    assert doc["format"] == "equiguard-annotations" and doc["deidentified"] is True
    by_uid = {r.uid: r for r in store.list_rois()}
    assert {r["uid"] for r in doc["rois"]} == set(by_uid)  # deleted ROI not exported
    for entry in doc["rois"]:
        roi = by_uid[entry["uid"]]
        png = result.folder / entry["mask"]
        assert not Path(entry["mask"]).is_absolute()
        np.testing.assert_array_equal(decode_mask(png.read_bytes()), roi.mask)
        assert (entry["version"], entry["label"], entry["annotator"]) == (roi.version, roi.label, roi.annotator)
    image = next(i for i in doc["images"] if i["sha256"] == "11" * 32)
    assert image["class_label"]["label"] == "nodule/mass" and image["source_name"] == image["key"]
    assert "/secret" not in result.manifest.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "workspace"]  # no temporary folders left
    with Image.open(result.folder / doc["rois"][0]["mask"]) as png:
        assert png.mode == "L" and set(np.unique(np.asarray(png))) == {0, 255}
    with pytest.raises(ConfigError, match="not empty"):
        export_bundle(store, tmp_path / "bundle")


def test_import_round_trip_is_idempotent(store, tmp_path):
    populate_2d(store)
    bundle = export_bundle(store, tmp_path / "bundle").folder
    other = AnnotationStore(Workspace(tmp_path / "other"))
    first = import_bundle(other, bundle)
    assert (first.images_added, first.rois_added, first.labels_set) == (2, 3, 1)
    again = import_bundle(other, bundle / "manifest.json")
    assert (again.images_added, again.rois_added, again.images_existing, again.rois_existing) == (0, 0, 2, 3)
    src = {r.uid: r for r in store.list_rois()}
    dst = {r.uid: r for r in other.list_rois()}
    assert set(src) == set(dst)
    for uid, roi in src.items():
        assert dst[uid].mask_png == roi.mask_png and dst[uid].label == roi.label  # stored bytes identical again
        assert other.get_image(dst[uid].image_id).sha256 == store.get_image(roi.image_id).sha256
    labelled = other.find_image("11" * 32)
    assert other.get_image_label(labelled.id).label == "nodule/mass"
    # importing back into the source store finds everything already there
    back = import_bundle(store, bundle)
    assert (back.rois_added, back.images_added, back.labels_kept) == (0, 0, 1)


def test_bundle_from_a_dicom_contains_no_patient_identifiers(store, tmp_path):
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    phi = [str(ds.PatientName), str(ds.PatientID), str(ds.InstitutionName)]
    # make the file name itself identifying, as real exports often are
    source = tmp_path / "incoming" / f"{ds.PatientName}_{ds.PatientID}.dcm"
    source.parent.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), source)
    image = load_image(source)
    image_id = store.add_image_file(source, shape=image.frame_shape, slice_index=0, display_name=source.name,
                                    modality=image.modality)
    # geometry as a careless caller might save it: a background data URL and a text note with the name
    geometry = {"objects": [{"type": "Circle", "left": 64, "top": 60, "radius": 10},
                            {"type": "IText", "left": 5, "top": 5, "text": f"pt {ds.PatientName}"}],
                "backgroundImage": {"type": "Image", "src": "data:image/png;base64,AAAA"}}
    store.add_roi(image_id, "nodule", disc(image.frame_shape, 60, 64, 10), annotator="Dr A", geometry=geometry)
    store.set_image_label(image_id, "nodule", "Dr A")
    result = export_bundle(store, tmp_path / "bundle")
    files = [p for p in result.folder.rglob("*") if p.is_file()]
    assert files and not any(p.suffix.lower() == ".dcm" for p in files)
    for p in files:
        data = p.read_bytes()
        assert not (len(data) > 132 and data[128:132] == b"DICM"), p
        for text in phi + [str(source.parent), "data:image"]:
            assert text.encode() not in data, (text, p)
    # asked explicitly, the paths are kept (the caller's choice, flagged in the manifest)
    named = export_bundle(store, tmp_path / "named", include_source_paths=True)
    doc = json.loads(named.manifest.read_text())
    assert doc["deidentified"] is False and doc["images"][0]["source_path"] == str(source.resolve())
    # DICOM SEG and SR carry patient and study modules by design: de-identified, every byte is clean too
    from core.exchange import export_dicom

    uids = [str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID),
            str(ds.FrameOfReferenceUID)]
    dicom = export_dicom(store, tmp_path / "dicom")
    files = [p for p in dicom.folder.rglob("*") if p.is_file()]
    assert len(dicom.seg_files) == len(dicom.sr_files) == 1 and len(files) == 3
    for p in files:
        data = p.read_bytes()
        for text in phi + uids + [str(source.parent), source.name, str(ds.StudyDate)]:
            assert text.encode() not in data, (text, p)
    seg = pydicom.dcmread(dicom.folder / dicom.seg_files[0])
    sr = pydicom.dcmread(dicom.folder / dicom.sr_files[0])
    assert seg.PatientID == sr.PatientID and seg.StudyInstanceUID == sr.StudyInstanceUID  # consistent pseudonyms
    # identified mode is opt-in and keeps them
    kept = export_dicom(store, tmp_path / "dicom-identified", deidentified=False)
    seg = pydicom.dcmread(kept.folder / kept.seg_files[0])
    assert str(seg.PatientName) == str(ds.PatientName) and seg.StudyInstanceUID == ds.StudyInstanceUID


@pytest.mark.parametrize("name", ["anatomical.nii", "reoriented_anat_moved.nii"])
def test_volume_slices_export_as_nifti_in_the_source_affine(store, tmp_path, name):
    source = tmp_path / name
    # a source header carrying an identifier, as some converters write into descrip/aux_file
    original_img = nib.load(NIB_DATA / name)
    original_img.header["descrip"] = b"PATIENT JANE DOE 1970"
    original_img.header["aux_file"] = b"MRN12345"
    nib.save(original_img, source)
    image = load_image(source)
    masks = {}
    for index, (cy, cx) in {5: (10, 12), 6: (11, 13), 12: (20, 15)}.items():
        plane = image.slice(index, "axial").shape
        masks[index] = disc(plane, cy, cx, 4)
        image_id = store.add_image_file(source, shape=plane, slice_index=index, axis="axial",
                                        source_shape=image.spatial_shape)
        store.add_roi(image_id, "tumour", masks[index], annotator="Dr A")
    other = store.add_image_file(source, shape=image.slice(8, "axial").shape, slice_index=8, axis="axial")
    store.add_roi(other, "edema", disc(image.slice(8, "axial").shape, 15, 15, 3), annotator="Dr A")
    result = export_bundle(store, tmp_path / "bundle")
    assert result.n_volumes == 2 and result.warnings == []
    doc = json.loads(result.manifest.read_text())
    vol = next(v for v in doc["volumes"] if v["label"] == "tumour")
    assert vol["slices"] == [5, 6, 12]
    written = nib.load(result.folder / vol["file"])
    original = nib.load(source)
    np.testing.assert_allclose(written.affine, original.affine)
    assert written.shape == original.shape[:3]
    data = np.asarray(written.dataobj)
    assert data.sum() == sum(int(m.sum()) for m in masks.values())
    expected = image.mask_to_source(image.slices_to_volume(masks, "axial"))
    np.testing.assert_array_equal(data.astype(bool), expected)
    for p in result.folder.rglob("*"):
        if p.is_file():
            assert b"JANE DOE" not in p.read_bytes() and b"MRN12345" not in p.read_bytes(), p
    # the mask voxels sit on the displayed slices: the reloaded mask, re-sliced, gives the drawn masks back
    reloaded = load_image(result.folder / vol["file"])
    for index, mask in masks.items():
        np.testing.assert_array_equal(reloaded.slice(index, "axial") > 0, mask)


def test_missing_volume_source_still_exports_2d_masks_with_a_warning(store, tmp_path):
    source = tmp_path / "anatomical.nii"
    shutil.copy(NIB_DATA / "anatomical.nii", source)
    image = load_image(source)
    plane = image.slice(4, "axial").shape
    image_id = store.add_image_file(source, shape=plane, slice_index=4, axis="axial")
    store.add_roi(image_id, "tumour", disc(plane, 10, 10, 4), annotator="Dr A")
    source.unlink()
    with pytest.warns(UserWarning, match="not available"):
        result = export_bundle(store, tmp_path / "bundle")
    assert (result.n_rois, result.n_volumes) == (1, 0) and "not available" in result.warnings[0]


def tamper(bundle: Path, edit) -> None:
    path = bundle / "manifest.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.update(format="something-else"), "not an EquiGuard"),
    (lambda d: d.update(format_version=99), "format_version"),
    (lambda d: d.pop("rois"), "missing 'rois'"),
    (lambda d: d["rois"][0].update(mask="../../etc/passwd"), "inside the bundle"),
    (lambda d: d["rois"][0].update(mask="/etc/passwd"), "inside the bundle"),
    (lambda d: d["rois"][0].update(mask="masks/nope.png"), "missing"),
    (lambda d: d["rois"][0].update(mask_sha256="0" * 64), "sha256"),
    (lambda d: d["rois"][0].update(image="no-such-key"), "does not list"),
    (lambda d: d["images"][0].update(shape=[3, 3]), "shape"),
    (lambda d: d["images"][0].update(axis="oblique", slice_index=1), "axis"),
    (lambda d: d["rois"].append(dict(d["rois"][0])), "repeats the uid"),
])
def test_bad_manifests_fail_clearly_and_import_nothing(store, tmp_path, edit, match):
    populate_2d(store)
    bundle = export_bundle(store, tmp_path / "bundle").folder
    tamper(bundle, edit)
    target = AnnotationStore(Workspace(tmp_path / "target"))
    with pytest.raises(ManifestError, match=match):
        import_bundle(target, bundle)
    assert target.list_images() == [] and target.list_rois(include_deleted=True) == []


def test_unreadable_manifest_and_missing_bundle(store, tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        import_bundle(store, tmp_path / "b")
    with pytest.raises(ManifestError, match="no manifest.json"):
        import_bundle(store, tmp_path / "nowhere")


def test_cli_export_then_import_and_one_line_errors(store, workspace, tmp_path):
    from conftest import run_cli

    populate_2d(store)
    out = run_cli("--workspace", str(workspace.root), "annotations", "export", str(tmp_path / "b"))
    assert out.returncode == 0 and "exported 3 ROI(s) on 2 image(s)" in out.stdout
    again = run_cli("--workspace", str(workspace.root), "annotations", "export", str(tmp_path / "b"))
    assert again.returncode == 2 and again.stderr.strip().splitlines()[-1].startswith("error: export folder")
    imported = run_cli("--workspace", str(tmp_path / "ws2"), "annotations", "import", str(tmp_path / "b"))
    assert imported.returncode == 0 and "imported 3 ROI(s)" in imported.stdout
    assert AnnotationStore(Workspace(tmp_path / "ws2")).roi_counts() == {"nodule": 2, "mass": 1}
    bad = run_cli("--workspace", str(tmp_path / "ws2"), "annotations", "import", str(tmp_path / "missing"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "no manifest.json" in bad.stderr
