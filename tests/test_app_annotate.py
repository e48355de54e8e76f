"""The Annotate page: what a save does to the store, a file's ROIs for the viewer, and reader studies on the page
(reader profile, blinded reading, submission, model proposals, the annotate-next order) with AppTest."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT
from core.errors import ConfigError
from core.io import load_image
from core.store import AnnotationStore, sha256_file
from core.studio.annotate import NO_READER, save_edits, stack_planes, stack_rois, stack_view, submit_stack
from core.studio.planes import Plane
from core.studio.reading import describe_proposal, reading_order, register_default_planes
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
    assert not report.ok and "reader profile" in report.describe() and store.list_rois(image_id) == []
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


# ----------------------------------------------------------------------------- reader studies on the page

SIDE = 48


def disc(cy, cx, r, shape=(SIDE, SIDE)):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r * r


@pytest.fixture
def study(workspace):
    """Four PNG scans under images/ (three registered, one not) and a tiny untrained classifier checkpoint."""
    import torch

    from core.models import ModelConfig, build_model
    from core.training import save_checkpoint

    store = AnnotationStore(workspace)
    folder = workspace.root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    paths, ids = [], []
    for k in range(4):
        buf = io.BytesIO()
        Image.fromarray(np.uint8(40 + 150 * disc(14 + 6 * k, 20 + 3 * k, 5 + 2 * k))).save(buf, format="PNG")
        path = folder / f"scan-{k}.png"
        path.write_bytes(buf.getvalue())
        paths.append(path.resolve())
        if k < 3:
            ids.append(store.add_image_file(path, shape=(SIDE, SIDE), display_name=path.name))
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="baseline", in_channels=1, num_classes=3, image_size=32))
    checkpoint = save_checkpoint(workspace.checkpoints / "tiny" / "model.pt", model)
    return store, paths, ids, checkpoint


def _open_page(reader: str | None = None, role: str = "reader") -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/annotate.py")
    at.run()
    if reader is not None:
        _sign_in(at, reader, role)
    return at


def _sign_in(at: AppTest, name: str, role: str = "reader") -> None:
    at.text_input(key="reader_name").input(name)
    at.radio(key="reader_role").set_value(role)
    next(b for b in at.button if b.label == "Start reading").click().run()


def _viewer_data(at: AppTest) -> dict:
    (component,) = at.get("bidi_component")
    return json.loads(component.proto.json)


def _badges(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "-badge[" in m.value]


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_stack_view_blinds_other_readers_until_the_reading_is_submitted(study):
    store, paths, ids, _ = study
    image, sha = load_image(str(paths[0])), sha256_file(paths[0])
    mine = store.add_roi(ids[0], "lesion", disc(20, 20, 6), annotator="R1")
    theirs = store.add_roi(ids[0], "lesion", disc(22, 21, 6), annotator="R2")
    store.set_image_label(ids[0], "nodule", "R2")
    store.register_reader("Adj", "adjudicator")
    view = stack_view(store, sha, image, None, "R1")  # not blinded: the other reader's ROI is read-only
    assert [r["id"] for r in view.rois] == [mine.id] and [o["id"] for o in view.overlays] == [theirs.id]
    assert not view.blinded and not view.hidden
    assert [r["id"] for r in stack_view(store, sha, image, None, "R2").rois] == [theirs.id]
    assert sorted(o["name"] for o in stack_view(store, sha, image, None, None).overlays) == ["R1", "R2"]
    store.set_workspace_blinded(True)
    view = stack_view(store, sha, image, None, "R1")
    assert view.blinded and view.hidden and not view.submitted
    assert [r["id"] for r in view.rois] == [mine.id] and view.overlays == [] and view.theirs == []
    assert stack_view(store, sha, image, None, None).overlays == []  # no reader: nothing blinded is shown
    assert submit_stack(store, paths[0], sha, image, None, "R1", Plane()) == 1
    view = stack_view(store, sha, image, None, "R1")
    assert view.submitted and not view.hidden
    (overlay,) = view.overlays
    assert (overlay["id"], overlay["name"], overlay["colour"]) == (theirs.id, "R2", view.colours["R2"])
    assert list(view.colours) == ["R2"]
    adjudicator = stack_view(store, sha, image, None, "Adj")  # sees everything without submitting
    assert not adjudicator.hidden and sorted(o["name"] for o in adjudicator.overlays) == ["R1", "R2"]
    with pytest.raises(ConfigError, match="reader profile"):
        submit_stack(store, paths[0], sha, image, None, None, Plane())


def test_a_saved_proposal_is_the_readers_decision_with_provenance(study):
    store, paths, ids, _ = study
    image, sha = load_image(str(paths[1])), sha256_file(paths[1])
    proposed = disc(24, 24, 8)
    method = {"explainer": "gradcam", "model_kind": "classifier", "threshold": 0.5, "smooth_sigma": 1.5,
              "largest_component": True, "predicted": "mass", "probability": 0.8, "margin": 1.2}
    kept, changed, dropped = (store.add_proposal(ids[1], "mass", proposed, model="tiny", model_sha256="ab" * 32,
                                                 method=method) for _ in range(3))
    assert "classifier **tiny** (sha256 abababababab…)" in describe_proposal(kept)
    assert "Grad-CAM ≥ 0.5" in describe_proposal(kept) and "predicts **mass** (80%)" in describe_proposal(kept)
    view = stack_view(store, sha, image, None, "R1")
    assert [p["name"] for p in view.proposals] == [str(kept.id), str(changed.id), str(dropped.id)]
    smaller = proposed & ~disc(24, 30, 4)
    request = parse_save({"save_id": "s", "edits": [
        _edit("a", kind="mask", rle=view.proposals[0]["rle"], label="mass", proposal=str(kept.id)),
        _edit("b", kind="mask", rle=encode_rle(smaller), label="mass", proposal=str(changed.id)),
        _edit("c", deleted=True, proposal=str(dropped.id)),
        _edit("d", geometry=_rect(1, 1, 4, 4), proposal="not-a-number"),
        _edit("e", geometry=_rect(30, 30, 5, 5))]}, (SIDE, SIDE))
    assert save_edits(store, paths[1], sha, image, None, request, " ").error == NO_READER
    assert store.proposal_decisions() == [] and store.list_rois(ids[1]) == []
    report = save_edits(store, paths[1], sha, image, None, request, "R1")
    results = {r.cid: r for r in report.results}
    assert [results[c].status for c in "abcde"] == ["saved", "saved", "deleted", "failed", "saved"]
    assert "unknown proposal" in results["d"].message
    decisions = {d.proposal_id: d for d in store.proposal_decisions()}
    assert {p: d.decision for p, d in decisions.items()} == {kept.id: "accepted", changed.id: "edited",
                                                              dropped.id: "rejected"}
    accepted, edited = store.get_roi(decisions[kept.id].roi_id), store.get_roi(decisions[changed.id].roi_id)
    assert accepted.annotator == edited.annotator == "R1" and decisions[dropped.id].roi_id is None
    assert np.array_equal(accepted.mask, proposed) and np.array_equal(edited.mask, smaller)
    assert f"Proposal {kept.id} accepted as ROI {accepted.id}" in report.describe()
    assert stack_view(store, sha, image, None, "R1").proposals == []  # decided: never sent again
    assert [p["name"] for p in stack_view(store, sha, image, None, "R2").proposals] == [
        str(kept.id), str(changed.id), str(dropped.id)]  # still pending for another reader


def test_reading_order_task_lists_queues_and_read_marks(study):
    store, paths, ids, _ = study
    files = sorted(paths)
    assert [i.path for i in reading_order(store, files)] == [str(p) for p in files]
    assert {i.plane for i in reading_order(store, files)} == {None}  # the whole workspace: default views
    store.add_roi(ids[2], "lesion", disc(20, 20, 5), annotator="R1")
    marks = {Path(i.path).name: i.read for i in reading_order(store, files, reader="R1")}
    assert marks == {"scan-0.png": False, "scan-1.png": False, "scan-2.png": True, "scan-3.png": False}
    task = store.create_task_list("study", [ids[2], ids[0]], blinded=True)
    listed = reading_order(store, files, reader="R1", image_ids=task.image_ids)
    assert [(Path(i.path).name, i.image_id, i.read) for i in listed] == [("scan-2.png", ids[2], True),
                                                                       ("scan-0.png", ids[0], False)]
    (new,) = register_default_planes(store, files)
    assert store.get_image(new).source_path == str(paths[3]) and register_default_planes(store, files) == []

    class Ranked:  # what core.assist.RankedImage carries
        def __init__(self, image_id, u):
            self.image_id, self.uncertainty, self.predicted, self.probability = image_id, u, "mass", 0.5

    slice_of_1 = store.add_image(sha256_file(paths[1]), paths[1], shape=(SIDE, SIDE), slice_index=4, axis="axial")
    queue = [Ranked(new, 0.9), Ranked(slice_of_1, 0.7), Ranked(ids[1], 0.5), Ranked(ids[0], 0.2)]
    ordered = reading_order(store, files, reader="R1", queue=queue)
    assert [(Path(i.path).name, i.rank) for i in ordered] == [("scan-3.png", 1), ("scan-1.png", 2),
                                                              ("scan-0.png", 3), ("scan-2.png", None)]
    assert ordered[1].plane == Plane(4, "axial")  # a file queues once, opening at its most uncertain plane


def test_without_a_reader_nothing_can_be_saved_and_bad_names_are_one_message(study):
    store, paths, ids, _ = study
    at = _open_page()
    assert not at.exception, [e.value for e in at.exception]
    assert [w.value for w in at.warning] == [f"Nothing can be saved yet: {NO_READER} (name and role)."]
    assert _button(at, "Set class label").disabled and _button(at, "Submit reading").disabled
    for bad, message in (("dr\x07a", "control or invisible character (U+0007 at position 3)"),
                         ("x" * 101, "reader name is 101 characters long; at most 100 are allowed")):
        at.text_input(key="reader_name").input(bad)
        _button(at, "Start reading").click().run()
        assert not at.exception
        assert len(at.error) == 1 and message in at.error[0].value and "\x07" not in at.error[0].value
        assert "reader_profile" not in at.session_state and _button(at, "Submit reading").disabled
    assert store.list_readers() == []
    _sign_in(at, "Dr A")
    assert not at.exception and not at.warning and not _button(at, "Set class label").disabled
    assert ":blue-badge[:material/badge: Reading as Dr A · reader]" in _badges(at)


def test_blinded_reader_sees_the_badge_then_the_others_work_after_submitting(study):
    store, paths, ids, _ = study
    store.set_workspace_blinded(True)
    theirs = store.add_roi(ids[0], "lesion", disc(22, 21, 6), annotator="R2")
    store.set_image_label(ids[0], "mass", "R2")
    mine = store.add_roi(ids[0], "lesion", disc(20, 20, 6), annotator="R1")
    at = _open_page("R1")
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="ann_file").value == str(paths[0])
    assert any("Blinded" in b for b in _badges(at)) and not any("Submitted" in b for b in _badges(at))
    assert any("stay hidden until you submit" in c.value for c in at.caption)
    data = _viewer_data(at)
    assert [r["id"] for r in data["rois"]] == [mine.id] and data["overlays"] == []
    assert not any("Other readers" in e.label for e in at.expander)
    assert not any("mass" in c.value for c in at.caption)
    at.text_input(key=f"ann_class_{sha256_file(paths[0])}_None_0_R1").input("nodule")
    _button(at, "Set class label").click().run()
    assert store.get_image_label(ids[0], reader="R1").label == "nodule"
    _button(at, "Submit reading").click().run()
    assert not at.exception and store.has_submitted(ids[0], "R1")
    assert any("Reading submitted (1 plane)" in s.value for s in at.success)
    assert any("Submitted" in b for b in _badges(at)) and _button(at, "Submit reading").disabled
    data = _viewer_data(at)
    assert [r["id"] for r in data["rois"]] == [mine.id]
    assert [(o["id"], o["name"]) for o in data["overlays"]] == [(theirs.id, "R2")]
    assert any(e.label == "Other readers' ROIs (1, read-only)" for e in at.expander)
    assert any("Other readers' class labels: R2: **mass**" in c.value for c in at.caption)
    assert not store.has_submitted(ids[0], "R2")  # R2 is still blinded to R1's work
    assert _button(at, "Prepare export (masks + manifest)").disabled  # the bundle holds every reader's work
    assert stack_view(store, sha256_file(paths[0]), load_image(str(paths[0])), None, "R2").overlays == []


def test_the_roi_list_edits_only_your_own_rois(study):
    store, paths, ids, _ = study
    mine = store.add_roi(ids[0], "lesion", disc(20, 20, 6), annotator="R1")
    mine = store.update_roi(mine.id, expected_version=1, annotator="R1", mask=disc(20, 20, 7))
    theirs = store.add_roi(ids[0], "lesion", disc(22, 21, 6), annotator="R2")
    at = _open_page("R1")
    assert [b.key for b in at.button if b.key and b.key.split("-")[0] in ("undo", "delete", "restore")] == [
        f"undo-{mine.id}", f"delete-{mine.id}"]  # none for R2's ROI, which is listed read-only
    assert any(e.label == "Other readers' ROIs (1, read-only)" for e in at.expander)
    at.button(key=f"undo-{mine.id}").click().run()
    assert store.get_roi(mine.id).area == disc(20, 20, 6).sum() and store.get_roi(mine.id).version == 3
    at.button(key=f"delete-{mine.id}").click().run()
    assert store.get_roi(mine.id).deleted and any(e.label == "Your deleted ROIs (1)" for e in at.expander)
    at.button(key=f"restore-{mine.id}").click().run()
    assert not at.exception and not store.get_roi(mine.id).deleted and store.get_roi(theirs.id).version == 1


def _choose_model(at: AppTest, by: str = "entropy") -> None:
    model = next(o for o in at.selectbox(key="ann_model").options if o.endswith("tiny"))
    at.selectbox(key="ann_model").set_value(model).run()
    at.selectbox(key="ann_rank_by").set_value(by).run()


def test_a_proposal_is_made_accepted_and_rejected_from_the_page(study):
    store, paths, ids, checkpoint = study
    at = _open_page("R1")
    _choose_model(at)
    assert not at.exception, [e.value for e in at.exception]
    path = at.selectbox(key="ann_file").value
    image_id = next(r.id for r in store.list_images() if r.source_path == path)
    at.slider(key="ann_prop_threshold").set_value(0.3)
    _button(at, "Propose ROI").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (proposal,) = store.list_proposals(image_id)
    assert proposal.model == "tiny" and proposal.model_sha256 == sha256_file(checkpoint)
    assert proposal.method["threshold"] == 0.3 and proposal.method["model_kind"] == "classifier"
    assert [p["name"] for p in _viewer_data(at)["proposals"]] == [str(proposal.id)]
    assert any(f"**Proposal #{proposal.id}**" in m.value and "classifier **tiny**" in m.value for m in at.markdown)
    _button(at, "Accept").click().run()
    (decision,) = store.proposal_decisions()
    roi = store.get_roi(decision.roi_id)
    assert (decision.reader, decision.decision, roi.annotator) == ("R1", "accepted", "R1")
    assert np.array_equal(roi.mask, proposal.mask) and _viewer_data(at)["proposals"] == []
    assert [r["id"] for r in _viewer_data(at)["rois"]] == [roi.id]
    assert any(f"from model proposal #{proposal.id} (accepted)" in m.value for m in at.markdown)
    _button(at, "Propose ROI").click().run()
    second = store.list_proposals(image_id)[-1]
    _button(at, "Reject").click().run()
    assert store.proposal_decisions(second.id)[0].decision == "rejected" and len(store.list_rois(image_id)) == 1
    assert _metric(at, "Decisions") == "2" and _metric(at, "Accepted") == "50%"
    assert _metric(at, "Dice proposal vs final ROI") == "1.000"


def test_in_a_blinded_study_a_reader_sees_only_their_own_proposal_decisions(study):
    store, paths, ids, _ = study
    store.set_workspace_blinded(True)
    proposal = store.add_proposal(ids[0], "mass", disc(24, 24, 8), model="tiny", model_sha256="ab" * 32,
                                  method={"explainer": "gradcam", "threshold": 0.5})
    store.decide_proposal(proposal.id, "R2", accept=False)
    at = _open_page("R1")
    assert any(f"**Proposal #{proposal.id}**" in m.value for m in at.markdown)  # still pending for R1
    assert any("your own decisions only" in c.value for c in at.caption)
    assert any(c.value == "No decision on a proposal yet." for c in at.caption)
    adjudicator = _open_page("Adj", role="adjudicator")
    assert _metric(adjudicator, "Decisions") == "1" and _metric(adjudicator, "Accepted") == "0%"
    assert not _button(adjudicator, "Prepare export (masks + manifest)").disabled


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_annotate_next_is_the_default_order_when_a_model_is_chosen(study):
    from core.assist import ClassifierAssistant, annotate_next

    store, paths, ids, checkpoint = study
    store.add_roi(ids[1], "lesion", disc(20, 20, 5), annotator="R1")  # read by R1: last in the order
    at = _open_page("R1")
    assert at.selectbox(key="ann_file").options == [p.name for p in sorted(paths)]  # no model: file order
    assistant = ClassifierAssistant(checkpoint, name="tiny")
    for by in ("entropy", "margin", "cam_spread"):
        _choose_model(at, by)
        assert not at.exception, [e.value for e in at.exception]
        ranked = annotate_next(store, assistant, by=by, reader="R1")  # scan-3 was registered by the page
        assert len(ranked) == 3 and ids[1] not in {r.image_id for r in ranked}
        expected = [store.get_image(r.image_id).source_path for r in ranked] + [str(paths[1])]
        assert at.selectbox(key="ann_file").options == [Path(p).name for p in expected]
        assert at.selectbox(key="ann_file").value == expected[0]  # a new order starts at its top
        assert any(c.value.startswith(":material/format_list_numbered: **Annotate next #1 of 3**")
                   for c in at.caption)
    _button(at, "Submit reading").click().run()  # read: it leaves the queue, the next file is one click away
    assert at.selectbox(key="ann_file").options[:2] == [Path(p).name for p in expected[1:3]]
    next(b for b in at.button if b.label.startswith("Next in queue")).click().run()
    assert at.selectbox(key="ann_file").value == expected[1]


def test_a_task_list_is_the_reading_order_and_scopes_the_progress(study):
    store, paths, ids, _ = study
    store.create_task_list("round 1", [ids[2], ids[0]], blinded=True)
    at = _open_page("R1")
    at.selectbox(key="ann_worklist").set_value("round 1").run()
    assert not at.exception
    assert at.selectbox(key="ann_file").options == ["scan-2.png", "scan-0.png"]
    assert at.selectbox(key="ann_file").value == str(paths[2])
    assert any("Blinded" in b for b in _badges(at))
    (progress,) = [d for d in at.dataframe if "submitted by you" in d.value.columns]
    assert list(progress.value["image"]) == ["scan-2.png", "scan-0.png"]


def test_assisting_models_are_the_registrys_classifiers_and_the_finished_few_shot_runs(study, workspace):
    import torch

    from core.fewshot import build_model, model_config, save_checkpoint
    from core.studio.reading import assistant_choices, load_assistant

    torch.manual_seed(0)
    config = {"backbone": "conv4", "in_channels": 1, "hidden": 8, "embed_dim": 8, "metric": "squared_euclidean",
              "normalize": False}
    model = build_model(config)
    run = workspace.reports / "fewshot" / "demo" / "dice"
    run.mkdir(parents=True)
    support = torch.stack([torch.from_numpy(disc(24, 24, r).astype(np.float32))[None] for r in (4, 5, 9, 10)])
    save_checkpoint(run / "checkpoint.pt", model, model_config(model, 1, 8, "conv4"), support,
                    torch.tensor([0, 0, 1, 1]), ["small", "large"])
    (run / "metrics.json").write_text("{}")
    (workspace.reports / "fewshot" / "unfinished" / "none").mkdir(parents=True)  # no metrics.json: not listed
    choices = assistant_choices(workspace)
    assert [(c.kind, c.name, c.label) for c in choices] == [("fewshot", "demo/dice", "few-shot: demo/dice"),
                                                            ("classifier", "tiny", "classifier: tiny")]
    fewshot = load_assistant(choices[0])
    assert (fewshot.kind, fewshot.name, fewshot.class_names) == ("fewshot", "demo/dice", ["small", "large"])
    assert fewshot.sha256 == sha256_file(run / "checkpoint.pt")
    classifier = load_assistant(choices[1])
    assert (classifier.kind, classifier.name) == ("classifier", "tiny")


def test_a_damaged_checkpoint_is_one_message_and_the_page_goes_on(study, workspace):
    run = workspace.reports / "fewshot" / "broken" / "dice"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text("{}")
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    at = _open_page("R1")
    at.selectbox(key="ann_model").set_value("few-shot: broken/dice").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == ["checkpoint.pt is not a readable checkpoint (UnpicklingError)"]
    assert _viewer_data(at)["uid"].endswith(":None") and not any("Annotate next" in c.value for c in at.caption)
    assert not any(s.value == "Model proposals" for s in at.subheader)
