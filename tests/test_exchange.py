"""DICOM SEG / SR out and SEG / NIfTI label maps in: round trips checked with highdicom and pydicom on real
sample files (pydicom's test data) and on a series written by the test, and bad input refused cleanly."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.sr.codedict import codes

from core.errors import ConfigError, LoadError
from core.exchange import export_dicom, import_label_map, import_seg, parse_label_names, reader_from_person_name
from core.exchange.synthetic import write_ct_series
from core.io import load_image
from core.store import AnnotationStore
from core.studio.planes import Plane, register_plane
from core.workspace import Workspace

NIB_DATA = Path(nib.__file__).parent / "tests" / "data"
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def box(shape, r0, r1, c0, c1):
    m = np.zeros(shape, bool)
    m[r0:r1, c0:c1] = True
    return m


def _copy_in(ws: Workspace, names) -> list[Path]:
    out = []
    for name in names:
        target = ws.root / "images" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(get_testdata_file(name), target)
        out.append(target)
    return out


def _rois_by_plane(store) -> dict:
    """{(sha256, slice, axis, label, reader): mask} of the live ROIs."""
    images = store.get_images()
    return {(images[r.image_id].sha256, images[r.image_id].slice_index, images[r.image_id].axis, r.label,
             r.annotator): r.mask for r in store.list_rois()}


def _dihedral(a: np.ndarray):
    for t in range(8):
        b = np.rot90(a, t % 4)
        yield t, (b.T if t >= 4 else b)


def _frame_of_axial_slice(image, k: int) -> tuple[int, int]:
    """Oracle from the pixels alone: the file frame f and dihedral transform t with slice(k) == t(frame f)."""
    target = image.slice(k, "axial")
    for f in range(image.n_frames):
        for t, view in _dihedral(image.frames_data[f]):
            if view.shape == target.shape and np.array_equal(view, target):
                return f, t
    raise AssertionError("no frame shows this slice")


def _undo(mask: np.ndarray, t: int) -> np.ndarray:
    m = mask.T if t >= 4 else mask
    return np.rot90(m, -(t % 4))


@pytest.fixture
def sources(workspace):
    """Real samples (CT_small, MR_small, the enhanced multi-frame eCT_Supplemental) and a 4-slice test series,
    annotated by two readers with several labels."""
    store = AnnotationStore(workspace)
    real = _copy_in(workspace, ["CT_small.dcm", "MR_small.dcm", "eCT_Supplemental.dcm"])
    series = write_ct_series(workspace.root / "images" / "series", 4, (48, 40))
    planned = {}
    for path in real[:2] + series[1:3]:
        image = load_image(path)
        iid = register_plane(store, path, image, Plane(0, None))
        h, w = image.frame_shape[:2]
        planned[(path.name, None)] = iid
        store.add_roi(iid, "tumour", box((h, w), 5, h // 2, 4, w // 2), annotator="Dr A")
        store.add_roi(iid, "lesion", box((h, w), h // 2, h - 3, w // 3, w - 2), annotator="Dr A")
        store.add_roi(iid, "tumour", box((h, w), 6, h // 2 + 2, 5, w // 2 + 1), annotator="Dr B")
    ect = load_image(real[2])
    for k in range(ect.n_slices("axial")):
        iid = register_plane(store, real[2], ect, Plane(k, "axial"))
        planned[(real[2].name, k)] = iid
        store.add_roi(iid, "nodule", box(ect.slice(k, "axial").shape, 100 + 40 * k, 220, 150, 300), annotator="Dr A")
    store.set_image_label(planned[("CT_small.dcm", None)], "nodule", "Dr A")
    yield workspace, store, real, series, planned
    store.close()


def test_seg_export_reads_back_with_highdicom_and_pydicom(sources, tmp_path):
    workspace, store, real, series, planned = sources
    done = export_dicom(store, tmp_path / "out", deidentified=False)
    assert done.notes == [] and len(done.seg_files) == len(done.sr_files) == 7  # CT, MR, series: A+B; eCT: A
    all_sources = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p for p in real + series}
    checked_frames = 0
    for rel in done.seg_files:
        seg = hd.seg.segread(done.folder / rel)
        raw = pydicom.dcmread(done.folder / rel)
        reader = reader_from_person_name(seg.ContentCreatorName)
        assert seg.SegmentationType == "BINARY" and seg.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4"
        labels = {int(s.SegmentNumber): str(s.SegmentLabel) for s in seg.SegmentSequence}
        for s in seg.SegmentSequence:
            assert s.SegmentAlgorithmType == "MANUAL"
            assert s.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "49755003"
            expected_type = {"tumour": "108369006", "lesion": "52988006", "nodule": "27925004"}[str(s.SegmentLabel)]
            assert s.SegmentedPropertyTypeCodeSequence[0].CodeValue == expected_type
        assert raw.pixel_array.reshape(-1, raw.Rows, raw.Columns).shape[0] == raw.NumberOfFrames
        for (study, series_uid, sop) in seg.get_source_image_uids():
            assert sop in all_sources
            path = all_sources[sop]
            image = load_image(path)
            for segment, label in labels.items():
                if image.is_volume:  # the enhanced multi-frame source: one SEG frame per source frame
                    pixels = seg.get_pixels_by_source_frame(source_sop_instance_uid=sop,
                                                            source_frame_numbers=list(range(1, image.n_frames + 1)),
                                                            segment_numbers=[segment])[..., 0]
                    for k in range(image.n_slices("axial")):
                        roi = store.list_rois(planned[(path.name, k)], label=label, annotator=reader)
                        f, t = _frame_of_axial_slice(image, k)
                        expected = _undo(roi[0].mask, t) if roi else np.zeros(pixels.shape[1:], bool)
                        np.testing.assert_array_equal(pixels[f].astype(bool), expected)
                        checked_frames += 1
                else:
                    pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=[sop],
                                                               segment_numbers=[segment])[0, ..., 0]
                    roi = store.list_rois(planned[(path.name, None)], label=label, annotator=reader)
                    expected = roi[0].mask if roi else np.zeros(pixels.shape, bool)
                    np.testing.assert_array_equal(pixels.astype(bool), expected)
                    checked_frames += 1
        # pydicom's view: every stored frame names a source instance of the workspace
        for item in raw.PerFrameFunctionalGroupsSequence:
            ref = item.DerivationImageSequence[0].SourceImageSequence[0]
            assert str(ref.ReferencedSOPInstanceUID) in all_sources
    assert checked_frames == 4 * 2 + 4 * 1 + 2  # 4 single-frame sources x (A: 2 labels, B: 1), eCT: 2 slices


def test_importing_our_own_export_gives_the_same_rois(sources, tmp_path):
    workspace, store, real, series, planned = sources
    done = export_dicom(store, tmp_path / "out", deidentified=False, structured_reports=False)
    other = AnnotationStore(Workspace(tmp_path / "other"))
    copies = _copy_in(Workspace(tmp_path / "other"), ["CT_small.dcm", "MR_small.dcm", "eCT_Supplemental.dcm"])
    for path in series:
        target = tmp_path / "other" / "images" / "series" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    assert copies
    for rel in done.seg_files:
        import_seg(other, done.folder / rel)
    mine, theirs = _rois_by_plane(store), _rois_by_plane(other)
    assert set(mine) == set(theirs) and len(mine) == 14
    for key, mask in mine.items():
        np.testing.assert_array_equal(theirs[key], mask, err_msg=str(key))
    again = [import_seg(other, done.folder / rel) for rel in done.seg_files]
    assert sum(r.rois_added for r in again) == 0 and sum(r.rois_existing for r in again) == 14
    # and into the very workspace it came from: everything is already there
    back = [import_seg(store, done.folder / rel) for rel in done.seg_files]
    assert sum(r.rois_added for r in back) == 0


def test_measurement_report_names_the_reader_and_areas_in_mm2(sources, tmp_path):
    workspace, store, real, series, planned = sources
    done = export_dicom(store, tmp_path / "out", deidentified=False)
    ct = pydicom.dcmread(real[0], stop_before_pixels=True)
    spacing = [float(v) for v in ct.PixelSpacing]
    for seg_rel, sr_rel in zip(done.seg_files, done.sr_files):
        seg = hd.seg.segread(done.folder / seg_rel)
        if ct.SOPInstanceUID not in [u[2] for u in seg.get_source_image_uids()]:
            continue
        sr = hd.sr.srread(done.folder / sr_rel)
        reader = reader_from_person_name(seg.ContentCreatorName)
        assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34" and sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
        observers = hd.sr.utils.find_content_items(sr, name=codes.DCM.PersonObserverName, recursive=True)
        assert [reader_from_person_name(o.PersonName) for o in observers] == [reader]
        areas = sorted(float(item.MeasuredValueSequence[0].NumericValue) for item in
                       hd.sr.utils.find_content_items(sr, name=codes.SCT.Area, recursive=True))
        expected = sorted(round(r.area * spacing[0] * spacing[1], 4)
                          for r in store.list_rois(planned[("CT_small.dcm", None)], annotator=reader))
        assert areas == pytest.approx(expected)
        evidence = {str(i.ReferencedSOPInstanceUID) for s in sr.CurrentRequestedProcedureEvidenceSequence
                    for ser in s.ReferencedSeriesSequence for i in ser.ReferencedSOPSequence}
        assert {ct.SOPInstanceUID, seg.SOPInstanceUID} <= evidence


def test_deidentified_export_replaces_identifiers_consistently(sources, tmp_path):
    workspace, store, real, series, planned = sources
    done = export_dicom(store, tmp_path / "out")
    originals = [pydicom.dcmread(p, stop_before_pixels=True) for p in real + series]
    segs = {rel: pydicom.dcmread(done.folder / rel) for rel in done.seg_files}
    srs = {rel: pydicom.dcmread(done.folder / rel) for rel in done.sr_files}
    original_uids = {str(ds.SOPInstanceUID) for ds in originals} | {str(ds.StudyInstanceUID) for ds in originals}
    for rel, seg in segs.items():
        sr = srs[rel.replace("seg/", "sr/")]
        assert str(seg.PatientName).startswith("ANON^") and seg.PatientID == sr.PatientID
        assert seg.StudyInstanceUID == sr.StudyInstanceUID and seg.StudyInstanceUID not in original_uids
        refs = {str(i.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID)
                for i in seg.PerFrameFunctionalGroupsSequence}
        assert not refs & original_uids
        evidence = {str(i.ReferencedSOPInstanceUID) for s in sr.CurrentRequestedProcedureEvidenceSequence
                    for ser in s.ReferencedSeriesSequence for i in ser.ReferencedSOPSequence}
        assert refs <= evidence  # the SR points at the same replaced source UIDs as its SEG
    # one pseudonymous study per original study, shared by the SEGs of both readers, with one patient id
    studies: dict[str, set] = {}
    for seg in segs.values():
        studies.setdefault(seg.StudyInstanceUID, set()).add(seg.PatientID)
    assert len(studies) == len({ds.StudyInstanceUID for ds in originals}) == 4
    assert all(len(ids) == 1 for ids in studies.values())
    assert sorted(sum(seg.StudyInstanceUID == s for seg in segs.values()) for s in studies) == [1, 2, 2, 2]
    # a second export uses a fresh secret: nothing links the two
    second = export_dicom(store, tmp_path / "out2")
    assert {pydicom.dcmread(second.folder / r).StudyInstanceUID for r in second.seg_files}.isdisjoint(studies)
    other = AnnotationStore(Workspace(tmp_path / "other"))
    _copy_in(Workspace(tmp_path / "other"), ["CT_small.dcm"])
    with pytest.raises(LoadError, match="not in this workspace"):
        import_seg(other, done.folder / done.seg_files[0])


def test_pseudonymizer_leaves_the_source_header_alone_and_is_consistent():
    import copy

    from core.exchange import Pseudonymizer

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
    before = copy.deepcopy(ds)
    pseudo = Pseudonymizer()
    first, second = pseudo.dataset(ds), pseudo.dataset(ds)
    assert ds == before  # nothing shared was modified
    assert first.PatientID == second.PatientID == "ANON0001" and first.StudyInstanceUID == second.StudyInstanceUID
    assert first.StudyInstanceUID != ds.StudyInstanceUID and first.SOPClassUID == ds.SOPClassUID  # standard UIDs kept
    assert "InstitutionName" not in first and "PixelData" not in first and first.PatientBirthDate == ""
    assert not any(elem.tag.is_private for elem in first)
    assert Pseudonymizer().dataset(ds).StudyInstanceUID != first.StudyInstanceUID  # a new export, a new secret


def _store_state(store):
    return store.revision(), len(store.list_rois(include_deleted=True)), len(store.list_images())


def test_a_seg_of_images_the_workspace_lacks_is_refused_and_nothing_changes(sources):
    workspace, store, *_ = sources
    before = _store_state(store)
    with pytest.raises(LoadError, match=r"references 3 source image\(s\) that are not in this workspace"):
        import_seg(store, get_testdata_file("liver.dcm"))  # pydicom-data's real SEG of a CT we do not have
    with pytest.raises(LoadError, match="not a DICOM Segmentation"):
        import_seg(store, get_testdata_file("CT_small.dcm"), reader="Dr A")
    assert _store_state(store) == before


def test_a_seg_off_its_source_geometry_is_refused_and_nothing_changes(sources, tmp_path):
    workspace, store, real, series, planned = sources
    done = export_dicom(store, tmp_path / "out", deidentified=False, structured_reports=False)
    ect_sop = str(pydicom.dcmread(real[2], stop_before_pixels=True).SOPInstanceUID)
    rel = next(r for r in done.seg_files if ect_sop in [u[2] for u in hd.seg.segread(done.folder / r)
                                                         .get_source_image_uids()])
    ds = pydicom.dcmread(done.folder / rel)
    pos = ds.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0]
    pos.ImagePositionPatient = [float(pos.ImagePositionPatient[0]) + 5.0, *pos.ImagePositionPatient[1:]]
    moved = tmp_path / "moved.dcm"
    ds.save_as(moved)
    before = _store_state(store)
    with pytest.raises(LoadError, match="lies 5.00 mm from its source frame"):
        import_seg(store, moved)
    # a SEG made on a 64 x 64 impostor that claims CT_small's identity
    fake = pydicom.dcmread(real[0])
    fake.Rows = fake.Columns = 64
    fake.PixelData = np.zeros((64, 64), np.int16).tobytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = hd.seg.Segmentation(
            source_images=[fake], pixel_array=box((64, 64), 5, 20, 5, 20),
            segmentation_type="BINARY", segment_descriptions=[hd.seg.SegmentDescription(
                1, "tumour", codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm, "MANUAL")],
            series_instance_uid=hd.UID(), series_number=1, sop_instance_uid=hd.UID(), instance_number=1,
            manufacturer="x", manufacturer_model_name="x", software_versions="1", device_serial_number="1")
    seg.save_as(tmp_path / "small.dcm")
    with pytest.raises(LoadError, match="64x64 pixels but its source image is 128x128"):
        import_seg(store, tmp_path / "small.dcm", reader="Dr C")
    assert _store_state(store) == before


def test_bad_reader_names_refuse_the_import(sources, tmp_path):
    workspace, store, *_ = sources
    done = export_dicom(store, tmp_path / "out", deidentified=False, structured_reports=False)
    before = _store_state(store)
    for name, match in (("Dr\x1bA", "control"), ("y" * 101, "101 characters")):
        with pytest.raises(ConfigError, match=match):
            import_seg(store, done.folder / done.seg_files[0], reader=name)
    assert _store_state(store) == before


def test_nifti_label_map_round_trip_matching_and_bad_values(workspace, tmp_path):
    store = AnnotationStore(workspace)
    src = workspace.root / "images" / "anatomical.nii"
    src.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(NIB_DATA / "anatomical.nii", src)
    original = nib.load(src)
    labels = np.zeros(original.shape[:3], np.int16)
    labels[10:20, 12:22, 5:9] = 1
    labels[25:30, 8:14, 6:8] = 4
    label_map = tmp_path / "seg.nii.gz"
    nib.save(nib.Nifti1Image(labels, original.affine), label_map)
    names = parse_label_names("1=necrotic, 4=enhancing")
    done = import_label_map(store, label_map, names, reader="Dr A")
    image = load_image(src)
    from core.io.orientation import canonicalize, display_slice

    canonical = canonicalize(labels, original.affine)[0]
    rois = store.list_rois()
    assert done.rois_added == len(rois) == sum(int((display_slice(canonical, k, "axial") == v).any())
                                               for k in range(image.n_slices("axial")) for v in (1, 4))
    for roi in rois:
        rec = store.get_image(roi.image_id)
        value = {v: k for k, v in names.items()}[roi.label]
        np.testing.assert_array_equal(roi.mask, display_slice(canonical, rec.slice_index, "axial") == value)
    assert import_label_map(store, label_map, names, reader="Dr A").rois_added == 0  # idempotent
    # export as NIfTI masks (NIfTI sources keep NIfTI) and read them back as label maps: the same ROIs
    out = export_dicom(store, tmp_path / "out")
    assert out.seg_files == [] and len(out.nifti_files) == 2
    other = AnnotationStore(Workspace(tmp_path / "other"))
    shutil.copy(src, (tmp_path / "other" / "images").mkdir(parents=True) or tmp_path / "other" / "images")
    for rel in out.nifti_files:
        label = rel.split("/")[-1].split("--")[0]
        written = nib.load(out.folder / rel)
        np.testing.assert_allclose(written.affine, original.affine)
        import_label_map(other, out.folder / rel, {1: label}, reader="Dr A")
    assert {(k[1], k[2], k[3]) for k in _rois_by_plane(other)} == {(k[1], k[2], k[3]) for k in _rois_by_plane(store)}
    for key, mask in _rois_by_plane(store).items():
        np.testing.assert_array_equal(_rois_by_plane(other)[key], mask)
    # bad input: an unnamed value, two fitting volumes without --target, a grid nobody has
    before = _store_state(store)
    with pytest.raises(LoadError, match=r"label value\(s\) \[4\] that have no name"):
        import_label_map(store, label_map, {1: "necrotic"}, reader="Dr A")
    shutil.copy(src, workspace.root / "images" / "anatomical-copy.nii")
    with pytest.raises(LoadError, match="fits 2 workspace images"):
        import_label_map(store, label_map, names, reader="Dr B")
    assert import_label_map(store, label_map, names, reader="Dr B", target=src).rois_added == done.rois_added
    before = _store_state(store)
    nib.save(nib.Nifti1Image(labels[:-1], original.affine), tmp_path / "cropped.nii.gz")
    with pytest.raises(LoadError, match="no NIfTI image in this workspace has the shape"):
        import_label_map(store, tmp_path / "cropped.nii.gz", names, reader="Dr A")
    assert _store_state(store) == before
    for bad in ("1", "0=x", "a=b", ""):
        with pytest.raises(ConfigError):
            parse_label_names(bad)


def test_cli_export_and_import_with_formats_and_one_line_errors(sources, tmp_path, capsys):
    from core.cli import main

    workspace, store, *_ = sources
    ws = ["--workspace", str(workspace.root)]

    def cli(*argv):
        code = main([*ws, *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, err = cli("annotations", "export", str(tmp_path / "dcm"), "--format", "dicom", "--identified")
    assert code == 0 and "7 SEG, 7 SR" in out and "de-identified" not in out, err
    seg = sorted((tmp_path / "dcm" / "seg").iterdir())[0]
    code, out, err = cli("annotations", "import", str(seg))
    assert code == 0 and "imported 0 ROI(s)" in out, err
    code, out, err = cli("annotations", "import", str(seg), "--reader", "x" * 101)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: reader name")
    code, out, err = cli("annotations", "import", get_testdata_file("liver.dcm"))
    assert code == 2 and "not in this workspace" in err and err.count("\n") == 1
    code, out, err = cli("annotations", "import", str(NIB_DATA / "anatomical.nii"), "--reader", "Dr A")
    assert code == 2 and "--labels" in err and err.count("\n") == 1
    code, out, err = cli("annotations", "export", str(tmp_path / "deid"), "--format", "dicom", "--no-sr")
    assert code == 0 and "7 SEG, 0 SR" in out and "(de-identified)" in out


def test_overlapping_labels_keep_their_own_masks(workspace, tmp_path):
    store = AnnotationStore(workspace)
    paths = write_ct_series(workspace.root / "images" / "ct", 2, (32, 32), seed=3)
    expected = {}
    for k, path in enumerate(paths):
        iid = register_plane(store, path, load_image(path), Plane(0, None))
        for label, mask in (("tumour", box((32, 32), 4, 20, 4, 20)), ("edema", box((32, 32), 10 + k, 28, 10, 28))):
            store.add_roi(iid, label, mask, annotator="Dr A")
            expected[(str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID), label)] = mask
    done = export_dicom(store, tmp_path / "out", deidentified=False, structured_reports=False)
    seg = hd.seg.segread(done.folder / done.seg_files[0])
    assert seg.SegmentsOverlap == "YES"
    numbers = {str(s.SegmentLabel): int(s.SegmentNumber) for s in seg.SegmentSequence}
    for (sop, label), mask in expected.items():
        pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=[sop], segment_numbers=[numbers[label]])
        np.testing.assert_array_equal(pixels[0, ..., 0].astype(bool), mask)
