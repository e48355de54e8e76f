"""Annotation store: schema, images, versioned ROIs with undo, class labels, jobs, threads."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from core.errors import ConfigError
from core.progress import ProgressEvent
from core.store import (MAX_JOB_EVENTS, SCHEMA_VERSION, AnnotationStore, NotFoundError, StaleVersionError,
                        StoreError, decode_mask, encode_mask, mask_digest)

SHA = "ab" * 32


@pytest.fixture
def store(workspace):
    s = AnnotationStore(workspace)
    yield s
    s.close()


def box(shape=(40, 50), r0=5, r1=20, c0=10, c1=30):
    m = np.zeros(shape, dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


def test_connection_pragmas_and_schema_version(store, workspace):
    conn = store._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert store.schema_version() == SCHEMA_VERSION
    assert store.path == workspace.db_path
    # reopening an up-to-date database is a no-op
    assert AnnotationStore(workspace.db_path).schema_version() == SCHEMA_VERSION


def test_a_database_from_a_newer_version_is_refused(workspace):
    AnnotationStore(workspace).close()
    with sqlite3.connect(workspace.db_path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer"):
        AnnotationStore(workspace)


def test_mask_png_round_trip_is_exact_and_deterministic():
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (7, 13), (64, 65)]:
        m = rng.random(shape) > 0.5
        png = encode_mask(m)
        np.testing.assert_array_equal(decode_mask(png), m)
        assert encode_mask(m.astype(np.uint8) * 255) == png
        assert mask_digest(png) == mask_digest(encode_mask(m))
    with pytest.raises(ConfigError):
        encode_mask(np.zeros((2, 2, 2)))


def test_add_image_is_idempotent_per_plane(store):
    a = store.add_image(SHA, "/data/a.nii.gz", shape=(40, 50), slice_index=3, axis="axial", modality="MR")
    assert store.add_image(SHA.upper(), "/elsewhere/a.nii.gz", shape=(40, 50), slice_index=3, axis="axial") == a
    b = store.add_image(SHA, "/data/a.nii.gz", shape=(40, 50), slice_index=4, axis="axial")
    c = store.add_image(SHA, "/data/a.nii.gz", shape=(50, 60), slice_index=3, axis="coronal")
    d = store.add_image(SHA, "/data/a.nii.gz", shape=(40, 50))
    assert len({a, b, c, d}) == 4
    rec = store.get_image(a)
    assert (rec.slice_index, rec.axis, rec.shape, rec.modality) == (3, "axial", (40, 50), "MR")
    assert store.get_image(d).slice_index is None and store.get_image(d).axis is None
    assert store.find_image(SHA, 4, "axial").id == b and store.find_image(SHA, 9, "axial") is None
    assert [im.id for im in store.list_images(SHA)] == [a, b, c, d]


def test_add_image_file_hashes_the_bytes(store, tmp_path):
    f = tmp_path / "img.png"
    f.write_bytes(b"not really a png, only bytes to hash")
    import hashlib

    image_id = store.add_image_file(f, shape=(4, 4))
    assert store.get_image(image_id).sha256 == hashlib.sha256(f.read_bytes()).hexdigest()


@pytest.mark.parametrize("kwargs, match", [
    (dict(shape=(4,)), "shape"), (dict(shape=(0, 4)), "shape"), (dict(shape=(4, 4), axis="oblique", slice_index=1), "axis"),
    (dict(shape=(4, 4), axis="axial"), "slice_index"), (dict(shape=(4, 4), slice_index=-2), ">= 0"),
])
def test_add_image_rejects_bad_planes(store, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        store.add_image(SHA, "x", **kwargs)
    with pytest.raises(ConfigError, match="sha256"):
        store.add_image("xyz", "x", shape=(4, 4))


def test_roi_create_read_and_validation(store):
    image = store.add_image(SHA, "x", shape=(40, 50))
    geometry = [{"type": "Rect", "left": 10, "top": 5, "width": 20, "height": 15}]
    roi = store.add_roi(image, " lesion ", box(), annotator="Dr A", geometry=geometry)
    assert (roi.label, roi.version, roi.area, roi.deleted, roi.geometry) == ("lesion", 1, 15 * 20, False, geometry)
    np.testing.assert_array_equal(store.get_roi(roi.id).mask, box())
    assert store.find_roi(roi.uid).id == roi.id
    with pytest.raises(ConfigError, match="shape"):
        store.add_roi(image, "lesion", box((41, 50)), annotator="Dr A")
    with pytest.raises(ConfigError, match="empty"):
        store.add_roi(image, "lesion", np.zeros((40, 50), bool), annotator="Dr A")
    with pytest.raises(ConfigError, match="label"):
        store.add_roi(image, "  ", box(), annotator="Dr A")
    with pytest.raises(NotFoundError):
        store.add_roi(999, "lesion", box(), annotator="Dr A")
    with pytest.raises(StoreError, match="uid"):
        store.add_roi(image, "lesion", box(), annotator="Dr A", uid=roi.uid)
    assert len(store.list_rois(image)) == 1


def test_optimistic_concurrency_rejects_stale_edits(store):
    image = store.add_image(SHA, "x", shape=(40, 50))
    roi = store.add_roi(image, "lesion", box(), annotator="A")
    first = store.update_roi(roi.id, expected_version=1, annotator="B", mask=box(c1=35))
    assert first.version == 2 and first.area == 15 * 25 and first.label == "lesion"
    with pytest.raises(StaleVersionError, match="version 2"):
        store.update_roi(roi.id, expected_version=1, annotator="C", label="edema")
    assert store.get_roi(roi.id).label == "lesion"  # the stale edit changed nothing
    second = store.update_roi(roi.id, expected_version=2, annotator="C", label="edema")
    assert (second.version, second.label, second.area) == (3, "edema", 15 * 25)


def test_history_undo_delete_and_restore(store):
    image = store.add_image(SHA, "x", shape=(40, 50))
    roi = store.add_roi(image, "lesion", box(), annotator="A")
    store.update_roi(roi.id, expected_version=1, annotator="A", mask=box(r1=30))
    store.update_roi(roi.id, expected_version=2, annotator="A", label="edema")
    undone = store.undo_roi(roi.id, annotator="A")  # back to v2's state
    assert (undone.version, undone.label, undone.area) == (4, "lesion", 25 * 20)
    undone = store.undo_roi(roi.id, annotator="A", expected_version=4)  # back to v1's state
    np.testing.assert_array_equal(undone.mask, box())
    deleted = store.delete_roi(roi.id, annotator="B")
    assert deleted.deleted and store.list_rois(image) == [] and len(store.list_rois(image, include_deleted=True)) == 1
    assert store.delete_roi(roi.id, annotator="B").version == deleted.version  # no-op
    with pytest.raises(StoreError, match="deleted"):
        store.update_roi(roi.id, expected_version=deleted.version, annotator="B", label="x")
    restored = store.undo_roi(roi.id, annotator="B")
    assert not restored.deleted and restored.area == 15 * 20
    ops = [(v.version, v.op) for v in store.roi_history(roi.id)]
    assert ops == [(1, "create"), (2, "update"), (3, "update"), (4, "undo"), (5, "undo"), (6, "delete"), (7, "undo")]
    # undoing past the creation hides the ROI, then there is nothing left
    assert store.undo_roi(roi.id, annotator="B").deleted
    with pytest.raises(StoreError, match="nothing left"):
        store.undo_roi(roi.id, annotator="B")
    assert store.restore_roi(roi.id, annotator="B").deleted is False


def test_purge_removes_history_and_deleting_an_image_cascades(store):
    image = store.add_image(SHA, "x", shape=(40, 50))
    roi = store.add_roi(image, "lesion", box(), annotator="A")
    store.purge_roi(roi.id)
    with pytest.raises(NotFoundError):
        store.get_roi(roi.id)
    with pytest.raises(NotFoundError):
        store.roi_history(roi.id)
    roi = store.add_roi(image, "lesion", box(), annotator="A")
    store.set_image_label(image, "tumour", "A")
    with store._write() as conn:
        conn.execute("DELETE FROM images WHERE id = ?", (image,))
    assert store.list_rois(include_deleted=True) == [] and store.get_image_label(image) is None
    assert store._conn().execute("SELECT COUNT(*) FROM roi_versions").fetchone()[0] == 0


def test_class_labels(store):
    a = store.add_image(SHA, "x", shape=(4, 4))
    b = store.add_image("cd" * 32, "y", shape=(4, 4))
    assert store.get_image_label(a) is None
    store.set_image_label(a, "necrotic", "A")
    store.set_image_label(b, "edema", "A")
    label = store.set_image_label(a, "enhancing", "B")
    assert store.get_image_label(a) == label and (label.label, label.annotator) == ("enhancing", "B")
    assert [lab.image_id for lab in store.list_image_labels("edema")] == [b]
    store.clear_image_label(b)
    assert store.get_image_label(b) is None
    with pytest.raises(NotFoundError):
        store.set_image_label(12345, "edema", "A")
    with pytest.raises(ConfigError):
        store.set_image_label(a, "", "A")


def test_jobs_lifecycle_and_bounded_events(store):
    job = store.create_job("train", ["train", "--quick"], title="Train quick")
    rec = store.get_job(job)
    assert (rec.status, rec.argv, rec.title, rec.started_at, rec.progress) == ("queued", ["train", "--quick"],
                                                                            "Train quick", None, None)
    running = store.update_job(job, status="running", pid=4242)
    assert running.started_at is not None and running.pid == 4242 and not running.is_final
    n = MAX_JOB_EVENTS + 25
    store.append_job_events(job, [ProgressEvent("train", i, n, {"loss": 1.0 / i}) for i in range(1, n)])
    last = store.append_job_event(job, {"stage": "train", "step": n, "total": n, "metrics": {"loss": 0.0}})
    assert last == n
    full = store.get_job(job, events=True)
    assert full.progress == 1.0 and full.last_event["step"] == n
    assert len(full.events) == MAX_JOB_EVENTS and full.events[-1]["seq"] == n and full.events[0]["seq"] == 26
    assert [e["seq"] for e in store.job_events(job, after_seq=n - 3)] == [n - 2, n - 1, n]
    done = store.update_job(job, status="done", exit_code=0, result={"acc": 0.91}, result_path="reports/x.json")
    assert done.is_final and done.finished_at is not None and done.result == {"acc": 0.91}
    # conditional updates never overwrite a final state
    assert store.update_job(job, only_if_status=("queued", "running"), status="failed") is None
    assert store.get_job(job).status == "done"
    other = store.create_job("attack", ["attack"])
    assert [j.id for j in store.list_jobs()] == [other, job]
    assert [j.id for j in store.list_jobs("train")] == [job]
    assert [j.id for j in store.list_jobs(status="queued")] == [other]
    with pytest.raises(ConfigError, match="status"):
        store.update_job(job, status="exploded")
    with pytest.raises(ConfigError, match="unknown"):
        store.update_job(job, colour="red")
    with pytest.raises(ConfigError, match="only_if_status"):
        store.update_job(job, only_if_status="finished", status="done")
    assert store.update_job(other, only_if_status="queued", status="cancelled").status == "cancelled"
    with pytest.raises(NotFoundError):
        store.update_job(999, status="done")
    with pytest.raises(ConfigError):
        store.create_job("train", "train --quick")


def test_threads_share_one_store_object_without_losing_writes(store):
    image = store.add_image(SHA, "x", shape=(40, 50))

    def worker(k: int) -> list[int]:
        return [store.add_roi(image, f"t{k}", box(r0=i, r1=i + 5), annotator=f"thread {k}").id for i in range(10)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = [i for chunk in pool.map(worker, range(6)) for i in chunk]  # re-raises any worker error
    assert len(set(ids)) == 60
    assert store.roi_counts() == {f"t{k}": 10 for k in range(6)}
    assert store.integrity_check() == "ok"


def test_image_mask_is_the_union_of_live_rois(store):
    image = store.add_image(SHA, "x", shape=(40, 50))
    assert not store.image_mask(image).any()
    a = store.add_roi(image, "tumour", box(r0=0, r1=10), annotator="A")
    store.add_roi(image, "tumour", box(r0=5, r1=15), annotator="A")
    store.add_roi(image, "edema", box(r0=30, r1=35), annotator="A")
    np.testing.assert_array_equal(store.image_mask(image, "tumour"), box(r0=0, r1=15))
    assert store.image_mask(image).sum() == 15 * 20 + 5 * 20
    store.delete_roi(a.id, annotator="A")
    np.testing.assert_array_equal(store.image_mask(image, "tumour"), box(r0=5, r1=15))
    with pytest.raises(NotFoundError):
        store.image_mask(999)


@pytest.mark.parametrize("package", ["core.store", "core.roi", "core.agreement", "core.assist", "core.exchange"])
def test_every_public_name_exists_and_is_documented(package):
    import importlib
    import inspect

    module = importlib.import_module(package)
    assert module.__doc__
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{package}.{name} has no docstring"
