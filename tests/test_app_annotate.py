"""The Annotate page's logic around the viewer: what a save does to the store, and a file's ROIs for the viewer."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ConfigError
from core.store import AnnotationStore
from core.studio.annotate import save_edits, stack_planes, stack_rois
from core.viewer import apply_save, encode_rle, geometry_to_mask, parse_save

SHAPE = (40, 60)


def _rect(x, y, w, h):
    return {"format": "viewer/1", "type": "rect", "x": x, "y": y, "width": w, "height": h}


def _edit(cid, **fields):
    return {"cid": cid, "id": None, "version": None, "slice": None, "label": "lesion", "kind": "shape",
            "geometry": None, "rle": None, "deleted": False, "proposal": None, **fields}


@pytest.fixture
def plane(workspace):
    store = AnnotationStore(workspace)
    return store, store.add_image("ab" * 32, workspace.root / "x.png", shape=SHAPE)


def test_new_shapes_and_painted_masks_are_stored_as_drawn(plane):
    store, image_id = plane
    painted = np.zeros(SHAPE, bool)
    painted[30:35, 40:52] = True
    request = parse_save({"save_id": "s1", "edits": [
        _edit("a", geometry=_rect(2.5, 3, 10, 5)),
        _edit("b", kind="mask", rle=encode_rle(painted), label="oedema", proposal="model-1"),
    ]}, SHAPE)
    assert request.edits[1].proposal == "model-1"
    report = apply_save(store, request, image_id_for=lambda _: image_id, annotator="dr a")
    assert report.ok and [r.status for r in report.results] == ["saved", "saved"]
    first, second = store.list_rois(image_id)
    assert np.array_equal(first.mask, geometry_to_mask(_rect(2.5, 3, 10, 5), SHAPE)) and first.area == 50
    assert first.geometry == _rect(2.5, 3.0, 10.0, 5.0)
    assert np.array_equal(second.mask, painted) and second.geometry == {"format": "viewer/1", "type": "mask"}
    assert report.to_ack()["results"]["b"] == {"status": "saved", "roi_id": second.id, "message": ""}


def test_edits_deletes_and_empty_masks(plane):
    store, image_id = plane
    a = store.add_roi(image_id, "lesion", geometry_to_mask(_rect(0, 0, 5, 5), SHAPE), annotator="dr a")
    b = store.add_roi(image_id, "lesion", geometry_to_mask(_rect(10, 10, 5, 5), SHAPE), annotator="dr a")
    c = store.add_roi(image_id, "lesion", geometry_to_mask(_rect(20, 20, 5, 5), SHAPE), annotator="dr a")
    request = parse_save({"edits": [
        _edit("sa", id=a.id, version=1, geometry=_rect(0, 0, 8, 8), label="tumour"),
        _edit("sb", id=b.id, version=1, deleted=True),
        _edit("sc", id=c.id, version=1, kind="mask", rle=encode_rle(np.zeros(SHAPE, bool))),  # erased away
    ]}, SHAPE)
    report = apply_save(store, request, image_id_for=lambda _: image_id, annotator="dr b")
    assert [r.status for r in report.results] == ["saved", "deleted", "deleted"]
    edited = store.get_roi(a.id)
    assert (edited.version, edited.area, edited.label, edited.annotator) == (2, 64, "tumour", "dr b")
    assert store.get_roi(b.id).deleted and store.get_roi(c.id).deleted
    store.undo_roi(a.id, annotator="dr b")
    assert store.get_roi(a.id).area == 25  # the store's own undo still works on viewer edits


def test_a_stale_edit_is_kept_as_a_new_roi_beside_the_other_readers(plane):
    store, image_id = plane
    roi = store.add_roi(image_id, "lesion", geometry_to_mask(_rect(0, 0, 5, 5), SHAPE), annotator="dr a")
    theirs = store.update_roi(roi.id, expected_version=1, annotator="dr b",
                              mask=geometry_to_mask(_rect(0, 0, 6, 6), SHAPE))
    request = parse_save({"edits": [_edit("s", id=roi.id, version=1, geometry=_rect(0, 0, 9, 9)),
                                    _edit("d", id=roi.id, version=1, deleted=True)]}, SHAPE)
    report = apply_save(store, request, image_id_for=lambda _: image_id, annotator="dr a")
    assert [r.status for r in report.results] == ["forked", "kept"]
    assert "changed by dr b" in report.describe() and "both versions are kept" in report.describe()
    assert report.ok and report.level == "warn" and report.to_ack()["level"] == "warn"
    assert store.get_roi(roi.id).version == theirs.version and store.get_roi(roi.id).area == 36
    fork = store.get_roi(report.results[0].roi_id)
    assert fork.area == 81 and fork.annotator == "dr a" and fork.image_id == image_id


def test_a_refused_save_writes_nothing_and_a_failed_edit_spares_the_others(plane):
    store, image_id = plane
    request = parse_save({"edits": [_edit("a", geometry=_rect(0, 0, 4, 4))]}, SHAPE)
    report = apply_save(store, request, image_id_for=lambda _: image_id, annotator="  ")
    assert not report.ok and "annotator" in report.describe() and store.list_rois(image_id) == []
    request = parse_save({"edits": [_edit("gone", id=999, version=1, geometry=_rect(0, 0, 4, 4)),
                                    _edit("new", geometry=_rect(0, 0, 4, 4))]}, SHAPE)
    report = apply_save(store, request, image_id_for=lambda _: image_id, annotator="dr a")
    assert [r.status for r in report.results] == ["failed", "saved"] and not report.ok
    assert "999" in report.results[0].message and len(store.list_rois(image_id)) == 1
    assert report.to_ack()["ok"] is False and report.level == "error"


@pytest.mark.parametrize("payload,match", [
    ({"edits": "x"}, "list of edits"),
    ({"edits": [_edit("a", kind="blob")]}, "kind"),
    ({"edits": [_edit("a", label=" ", geometry=_rect(0, 0, 2, 2))]}, "label"),
    ({"edits": [_edit("a", kind="mask", rle=encode_rle(np.ones((4, 4))))]}, "image plane"),
    ({"edits": [_edit("a", geometry=_rect(0, 0, 2, 2)), _edit("a", geometry=_rect(0, 0, 2, 2))]}, "client id"),
    ({"edits": [_edit("a", id=3, geometry=_rect(0, 0, 2, 2))]}, "version"),
    ({"edits": [_edit("", geometry=_rect(0, 0, 2, 2))]}, "client id"),
    ({"edits": [_edit("a", geometry={"type": "mask"})]}, "polygon"),
])
def test_malformed_saves_are_config_errors(payload, match):
    with pytest.raises(ConfigError, match=match):
        parse_save(payload, SHAPE)


def test_volume_saves_register_the_slice_they_were_drawn_on(workspace, tmp_path):
    import nibabel as nib

    from core.io import load_image
    from core.store import sha256_file

    path = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((12, 10, 6), np.int16), np.eye(4)), path)
    image, sha = load_image(str(path)), sha256_file(path)
    store = AnnotationStore(workspace)
    shape = image.slice(0, "axial").shape
    with pytest.raises(ConfigError, match="slice 6 is outside"):
        parse_save({"edits": [_edit("a", slice=6, geometry=_rect(0, 0, 2, 2))]}, shape, n_slices=6)
    request = parse_save({"edits": [_edit("a", slice=4, geometry=_rect(1, 1, 3, 3)),
                                    _edit("b", slice=1, geometry=_rect(2, 2, 2, 2))]}, shape, n_slices=6)
    report = save_edits(store, path, sha, image, "axial", request, "dr a")
    assert report.ok
    planes = stack_planes(store, sha, image, "axial")
    assert [(p.slice_index, p.axis, p.shape) for p in planes] == [(1, "axial", shape), (4, "axial", shape)]
    rois = stack_rois(store, sha, image, "axial")
    assert sorted((r["slice"], r["geometry"]["type"]) for r in rois) == [(1, "rect"), (4, "rect")]
    assert stack_rois(store, sha, image, "coronal") == []
    only_mine = stack_rois(store, sha, image, "axial", rois_of=lambda i: store.list_rois(i, label="none"))
    assert only_mine == []
