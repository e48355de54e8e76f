"""Reader studies in the store: schema 2 migration, reader names and roles, per-reader labels,
blinded visibility, aggregated listings without N+1 queries, and model-proposal provenance."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from core.errors import ConfigError
from core.store import AnnotationStore, NotFoundError, StoreError, validate_reader_name
from core.store.schema import MIGRATIONS

SHA = "ab" * 32


@pytest.fixture
def store(workspace):
    s = AnnotationStore(workspace)
    yield s
    s.close()


def box(shape=(20, 20), r0=2, r1=8, c0=2, c1=8):
    m = np.zeros(shape, dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


def _images(store, n, shape=(20, 20)):
    return [store.add_image(f"{k:064x}", f"/x/{k}.png", shape=shape) for k in range(1, n + 1)]


def test_a_version_1_database_migrates_and_keeps_its_labels_and_rois(tmp_path):
    path = tmp_path / "v1.sqlite"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO images (sha256, source_path, shape, created_at) VALUES (?, 'a.png', '[20, 20]', 't0')",
                 (SHA,))
    conn.execute("INSERT INTO image_labels VALUES (1, 'nodule', 'Dr A', 't1')")
    conn.commit()
    conn.close()
    store = AnnotationStore(path)
    assert store.schema_version() == len(MIGRATIONS) == 2
    (label,) = store.reader_labels(1)
    assert (label.label, label.annotator, label.updated_at) == ("nodule", "Dr A", "t1")
    assert store.get_image_label(1) == label and store.get_image(1).spacing is None
    store.set_image_label(1, "mass", "Dr B")  # a second reader's label now sits next to the first
    assert {lab.annotator for lab in store.reader_labels(1)} == {"Dr A", "Dr B"}
    assert store.integrity_check() == "ok"
    store.close()


@pytest.mark.parametrize("name, match", [
    ("Dr\x07Bell", "control"), ("two\nlines", "control"), ("tab\there", "control"),
    ("evil\u202eesrever", "control"), ("x" * 101, "101 characters"), ("   ", "non-empty"), (None, "non-empty"),
])
def test_bad_reader_names_are_refused_everywhere_and_nothing_is_stored(store, name, match):
    (image,) = _images(store, 1)
    with pytest.raises(ConfigError, match=match):
        validate_reader_name(name)
    with pytest.raises(ConfigError, match=match):
        store.register_reader(name)
    with pytest.raises(ConfigError, match=match):
        store.add_roi(image, "lesion", box(), annotator=name)
    with pytest.raises(ConfigError, match=match):
        store.set_image_label(image, "nodule", name)
    with pytest.raises(ConfigError, match=match):
        store.submit_image(image, name)
    assert store.list_rois(include_deleted=True) == [] and store.reader_labels() == []
    assert store.list_readers() == [] and store.submissions() == []
    if isinstance(name, str) and name.strip():
        with pytest.raises(ConfigError) as info:
            validate_reader_name(name)
        assert name.strip()[:5] not in str(info.value)  # the message never repeats the name


def test_names_at_the_limit_and_unicode_are_fine(store):
    assert validate_reader_name("  " + "é" * 100 + " ") == "é" * 100
    assert store.register_reader("Dr Ørsted-Łukasz", "adjudicator").is_adjudicator
    with pytest.raises(ConfigError, match="role"):
        store.register_reader("Dr C", "chief")


def test_roles_and_reader_listing(store):
    (image,) = _images(store, 1)
    store.add_roi(image, "lesion", box(), annotator="legacy name")
    assert store.get_reader("legacy name").role == "reader"
    store.register_reader("Dr A")
    store.register_reader("Dr Z", "adjudicator")
    assert [(r.name, r.role) for r in store.list_readers()] == [
        ("Dr A", "reader"), ("Dr Z", "adjudicator"), ("legacy name", "reader")]
    store.register_reader("Dr A", "adjudicator")  # the role of a profile can change
    assert store.get_reader("Dr A").is_adjudicator


def test_per_reader_labels_resolve_by_adjudicator_then_majority_then_latest(store):
    a, b = _images(store, 2)
    store.set_image_label(a, "nodule", "R1")
    store.set_image_label(a, "mass", "R2")
    assert store.get_image_label(a).label == "mass"  # a tie goes to the latest label
    store.set_image_label(a, "nodule", "R3")
    assert store.get_image_label(a).label == "nodule"  # 2 of 3 readers
    store.register_reader("Adj", "adjudicator")
    store.set_image_label(a, "mass", "Adj")
    assert (store.get_image_label(a).label, store.get_image_label(a).annotator) == ("mass", "Adj")
    store.set_image_label(a, "fibrosis", "R1")  # a reader changes their label; theirs only
    assert store.get_image_label(a, reader="R1").label == "fibrosis"
    assert store.get_image_label(a, reader="R2").label == "mass" and store.get_image_label(a).label == "mass"
    store.set_image_label(b, "fibrosis", "R1")
    assert [(lab.image_id, lab.label) for lab in store.list_image_labels()] == [(a, "mass"), (b, "fibrosis")]
    assert [lab.image_id for lab in store.list_image_labels("fibrosis")] == [b]
    store.clear_image_label(a, reader="Adj")
    assert store.get_image_label(a).label == "fibrosis" and len(store.reader_labels(a)) == 3  # 1-1-1: latest
    store.clear_image_label(a)
    assert store.get_image_label(a) is None and store.reader_labels(a) == []


def test_blinded_readers_see_only_their_own_work_until_they_submit(store):
    a, b = _images(store, 2)
    store.register_reader("Adj", "adjudicator")
    ra = store.add_roi(a, "lesion", box(), annotator="R1")
    rb = store.add_roi(a, "lesion", box(r0=3), annotator="R2")
    store.set_image_label(a, "nodule", "R1")
    store.set_image_label(a, "mass", "R2")
    # not blinded: everyone sees everything
    assert [r.id for r in store.visible_rois(a, "R1")] == [ra.id, rb.id]
    store.create_task_list("study 1", [a], blinded=True)
    assert store.is_blinded(a) and not store.is_blinded(b)
    assert [r.id for r in store.visible_rois(a, "R1")] == [ra.id]
    assert [r.id for r in store.visible_rois(a, "R2")] == [rb.id]
    assert store.visible_rois(a, "R3") == [] and store.visible_labels(a, "R3") == []
    assert [lab.label for lab in store.visible_labels(a, "R1")] == ["nodule"]
    assert [r.id for r in store.visible_rois(a, "Adj")] == [ra.id, rb.id]  # the adjudicator sees all
    first = store.submit_image(a, "R1")
    assert store.submit_image(a, "R1") == first  # idempotent, the first time is kept
    assert [r.id for r in store.visible_rois(a, "R1")] == [ra.id, rb.id]
    assert {lab.label for lab in store.visible_labels(a, "R1")} == {"nodule", "mass"}
    assert [r.id for r in store.visible_rois(a, "R2")] == [rb.id]  # R2 has not submitted
    # the workspace setting blinds every image
    store.add_roi(b, "lesion", box(), annotator="R1")
    assert len(store.visible_rois(b, "R2")) == 1
    store.set_workspace_blinded(True)
    assert store.workspace_blinded() and store.visible_rois(b, "R2") == []
    store.set_workspace_blinded(False)
    assert len(store.visible_rois(b, "R2")) == 1
    with pytest.raises(NotFoundError):
        store.submit_image(999, "R1")
    with pytest.raises(ConfigError, match="already exists"):
        store.create_task_list("study 1", [b])
    with pytest.raises(NotFoundError):
        store.create_task_list("study 2", [b, 999])
    assert [t.name for t in store.list_task_lists()] == ["study 1"]
    assert store.get_task_list("study 1").image_ids == (a,)


def _count_statements(store):
    seen = []
    store._conn().set_trace_callback(lambda sql: seen.append(sql) if sql.lstrip().upper().startswith("SELECT")
                                     else None)
    return seen


@pytest.mark.parametrize("n_images", [3, 40])
def test_image_overview_uses_a_fixed_number_of_queries_and_respects_blinding(store, n_images):
    ids = _images(store, n_images)
    for k, image in enumerate(ids):
        store.add_roi(image, "lesion", box(), annotator="R1")
        if k % 2 == 0:
            store.add_roi(image, "lesion", box(r0=4), annotator="R2")
            store.set_image_label(image, "nodule", "R2")
    store.set_workspace_blinded(True)
    store.submit_image(ids[0], "R1")
    seen = _count_statements(store)
    rows = store.image_overview("R1")
    store._conn().set_trace_callback(None)
    assert len(seen) == 6  # images, ROI counts, labels, submissions, roles, blinding setting
    assert [row.image.id for row in rows] == ids
    assert (rows[0].n_rois, rows[0].readers, rows[0].class_label, rows[0].submitted) == (2, ("R1", "R2"), "nodule",
                                                                                        True)
    assert (rows[2].n_rois, rows[2].readers, rows[2].class_label, rows[2].submitted) == (1, ("R1",), None, False)
    everything = store.image_overview()
    assert everything[2].n_rois == 2 and everything[2].readers == ("R1", "R2")
    masks = store.live_roi_masks(ids[:2])
    assert [(m.image_id, m.reader) for m in masks] == [(ids[0], "R1"), (ids[0], "R2"), (ids[1], "R1")]
    assert store.live_roi_masks([]) == []


def test_spacing_is_stored_and_filled_in_later(store):
    a = store.add_image(SHA, "a.dcm", shape=(10, 10))
    assert store.get_image(a).spacing is None
    assert store.add_image(SHA, "a.dcm", shape=(10, 10), spacing=(0.5, 0.7)) == a
    assert store.get_image(a).spacing == (0.5, 0.7)
    with pytest.raises(ConfigError, match="spacing"):
        store.add_image("cd" * 32, "b.dcm", shape=(10, 10), spacing=(0.5, -1))


def test_proposals_keep_their_provenance_and_each_readers_decision(store):
    (image,) = _images(store, 1)
    proposed = box(r0=2, r1=10)
    p = store.add_proposal(image, "lesion", proposed, model="fewshot/run-1/dice", model_sha256="f" * 64,
                           method={"explainer": "gradcam", "threshold": 0.5}, score=0.3)
    assert np.array_equal(p.mask, proposed) and p.method["threshold"] == 0.5
    assert [q.id for q in store.list_proposals(image, pending_for="R1")] == [p.id]
    accepted = store.decide_proposal(p.id, "R1", accept=True)
    assert accepted.decision == "accepted" and store.get_roi(accepted.roi_id).annotator == "R1"
    assert np.array_equal(store.get_roi(accepted.roi_id).mask, proposed)
    edited = store.decide_proposal(p.id, "R2", accept=True, mask=box(r0=2, r1=6))
    assert edited.decision == "edited" and store.get_roi(edited.roi_id).area == 4 * 6
    rejected = store.decide_proposal(p.id, "R3", accept=False)
    assert rejected.decision == "rejected" and rejected.roi_id is None
    assert store.list_proposals(pending_for="R1") == [] and len(store.list_proposals(pending_for="R4")) == 1
    with pytest.raises(StoreError, match="already decided"):
        store.decide_proposal(p.id, "R1", accept=False)
    assert [d.decision for d in store.proposal_decisions(p.id)] == ["accepted", "edited", "rejected"]
    # a failed acceptance (mask of the wrong shape) stores neither the ROI nor the decision
    with pytest.raises(ConfigError, match="shape"):
        store.decide_proposal(p.id, "R5", accept=True, mask=np.ones((3, 3), bool))
    assert len(store.list_rois()) == 2 and len(store.proposal_decisions()) == 3
    with pytest.raises(ConfigError, match="shape"):
        store.add_proposal(image, "lesion", np.ones((3, 3), bool), model="m", model_sha256="0", method={})
