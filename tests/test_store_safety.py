"""The store's data is safe: online backup/restore, start-up refusal of damaged or newer stores, migration.

The migration test opens ``tests/fixtures/store_v1.sqlite`` (written by the
schema-version-1 code with ``tests/fixtures/make_store_v1.py``) with the
current code and checks that every ROI, its whole history, the images,
labels and jobs survive.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT, run_cli
from core.store import SCHEMA_VERSION, AnnotationStore, StoreError, backup_store, encode_mask, restore_store
from core.store.health import forget_checked

FIXTURES = REPO_ROOT / "tests" / "fixtures"
SHAPE = (24, 32)

# Saves ROIs as fast as it can; each printed line acknowledges a committed save.
WRITER = r"""
import sys
import numpy as np
from core.store import AnnotationStore
store = AnnotationStore(sys.argv[1])
image = store.add_image("ee" * 32, "phantom", shape=(24, 32))
for i in range(10**6):
    m = np.random.default_rng(i).random((24, 32)) > 0.6
    m[0, 0] = True
    store.add_roi(image, "live", m, annotator="writer", uid=f"w-{i}")
    print(i, flush=True)
"""


def expected_mask(i: int) -> np.ndarray:
    m = np.random.default_rng(i).random(SHAPE) > 0.6
    m[0, 0] = True
    return m


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pixels_digest(m: np.ndarray) -> str:
    m = np.asarray(m, bool)
    return hashlib.sha256(repr(m.shape).encode() + np.packbits(m).tobytes()).hexdigest()


def test_online_backup_is_a_consistent_snapshot_while_a_writer_runs(workspace, tmp_path):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(workspace.db_path)], cwd=REPO_ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        acked_before = [int(writer.stdout.readline()) for _ in range(30)]
        backups = [backup_store(workspace, tmp_path / f"b{k}.sqlite") for k in range(3)]
    finally:
        writer.kill()
        writer.wait(timeout=30)
    acked_total = len(acked_before) + len(writer.stdout.read().splitlines())
    writer.stdout.close()
    sizes = []
    for result in backups:
        conn = sqlite3.connect(result.path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
        conn.close()
        store = AnnotationStore(result.path)
        uids = [r.uid for r in store.list_rois()]
        n = len(uids)
        # A snapshot: exactly the first n saves, each complete, n between what was acknowledged around it.
        assert uids == [f"w-{i}" for i in range(n)] and acked_before[-1] + 1 <= n <= acked_total + 1
        sizes.append(n)
        for roi in store.list_rois():
            i = int(roi.uid[2:])
            assert roi.mask_png == encode_mask(expected_mask(i)) and [v.op for v in store.roi_history(roi.id)] == [
                "create"]
        assert result.counts["rois"] == n
        store.close()
    print(f"\nbackups during writes: {sizes} ROIs each, {acked_before[-1] + 1} acknowledged before, "
          f"{acked_total} in all")
    assert sizes == sorted(sizes) and acked_total > sizes[0]  # the writer kept saving during the backups
    assert not list(tmp_path.glob(".*"))  # no temporary files left


def test_backup_never_overwrites_and_restore_keeps_the_current_store_aside(workspace, tmp_path):
    store = AnnotationStore(workspace)
    image = store.add_image("ab" * 32, "x.png", shape=SHAPE)
    kept = store.add_roi(image, "first", expected_mask(1), annotator="a")
    backup = backup_store(workspace, tmp_path / "b.sqlite").path
    before = _digest(backup)
    with pytest.raises(StoreError, match="already exists"):
        backup_store(workspace, backup)
    assert _digest(backup) == before
    later = store.add_roi(image, "second", expected_mask(2), annotator="a")
    with pytest.raises(StoreError, match="--replace"):
        restore_store(workspace, backup)
    assert [r.uid for r in store.list_rois()] == [kept.uid, later.uid]  # refused: nothing changed
    result = restore_store(workspace, backup, replace=True)
    # The connection opened before the restore sees the restored store.
    assert [r.uid for r in store.list_rois()] == [kept.uid]
    assert AnnotationStore(result.previous).find_roi(later.uid) is not None  # the replaced store, kept aside
    assert result.previous.parent == workspace.db_path.parent and result.counts["rois"] == 1
    assert AnnotationStore(workspace).integrity_check() == "ok"


def test_cli_backup_and_restore(workspace, tmp_path):
    store = AnnotationStore(workspace)
    store.add_roi(store.add_image("cd" * 32, "y.png", shape=SHAPE), "l", expected_mask(3), annotator="a")
    store.close()
    done = run_cli("--workspace", str(workspace.root), "annotations", "backup", str(tmp_path))
    assert done.returncode == 0 and "1 ROI(s)" in done.stdout and "integrity check ok" in done.stdout
    (made,) = tmp_path.glob("equiguard-*.sqlite")
    again = run_cli("--workspace", str(workspace.root), "annotations", "backup", str(made))
    assert again.returncode == 2 and again.stderr.startswith("error: ") and "already exists" in again.stderr
    refused = run_cli("--workspace", str(workspace.root), "annotations", "restore", str(made))
    assert refused.returncode == 2 and "--replace" in refused.stderr
    restored = run_cli("--workspace", str(workspace.root), "annotations", "restore", str(made), "--replace")
    assert restored.returncode == 0 and "previous store is kept at" in restored.stdout


def _corrupt(path: Path) -> None:
    """Overwrite the cell content (end) of the rois table's root page with garbage.

    Only that table's b-tree is hit, so the file still opens (header, schema and
    user_version intact) and it is ``PRAGMA integrity_check`` that must notice.
    """
    with sqlite3.connect(path) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'rois'").fetchone()
    conn.close()
    data = bytearray(path.read_bytes())
    start = (root - 1) * page
    data[start + page - 600: start + page - 300] = bytes(range(256)) + bytes(44)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["integrity", "newer", "not sqlite"])
def test_a_damaged_foreign_or_newer_store_is_refused_and_left_untouched(tmp_path, damage):
    db = tmp_path / "equiguard.sqlite"
    shutil.copy(FIXTURES / "store_v1.sqlite", db)
    AnnotationStore(db).close()  # a current, healthy store (migrated, WAL)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    if damage == "newer":
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    if damage == "integrity":
        _corrupt(db)
    elif damage == "not sqlite":
        db.write_bytes(b"PK\x03\x04 this is a zip file, not a database" * 100)
    forget_checked(db)
    before = _digest(db)
    with pytest.raises(StoreError) as info:
        AnnotationStore(db)
    message = str(info.value)
    expected = {"integrity": "failed its integrity check", "newer": "newer than this EquiGuard",
                "not sqlite": "is not an SQLite database"}[damage]
    assert expected in message and "\n" not in message
    assert _digest(db) == before and sorted(p.name for p in tmp_path.iterdir()) == ["equiguard.sqlite"]


def test_the_studio_refuses_a_damaged_store_with_one_message(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from core.workspace import Workspace

    ws = Workspace(tmp_path / "workspace")
    shutil.copy(FIXTURES / "store_v1.sqlite", ws.db_path)
    _corrupt(ws.db_path)
    before = _digest(ws.db_path)
    monkeypatch.setenv("EQUIGUARD_WORKSPACE", str(ws.root))
    for page in ("pages/annotate.py", "pages/attack_lab.py", "pages/home.py"):
        at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
        at.run()
        if page != "pages/home.py":
            at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and "failed its integrity check" in errors[0], errors
    assert _digest(ws.db_path) == before


def test_a_schema_v1_store_opens_with_every_roi_intact(tmp_path):
    expected = json.loads((FIXTURES / "store_v1.json").read_text())
    assert expected["schema_version"] == 1
    db = tmp_path / "equiguard.sqlite"
    shutil.copy(FIXTURES / "store_v1.sqlite", db)
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == expected["schema_version"]
    store = AnnotationStore(db)  # migrates to the current version
    assert store.schema_version() == SCHEMA_VERSION and store.integrity_check() == "ok"
    images = {i.id: i for i in store.list_images()}
    assert [[i.sha256, i.slice_index, i.axis, list(i.shape)] for i in images.values()] == expected["images"]
    found = []
    for want in expected["rois"]:
        roi = store.find_roi(want["uid"])
        image = images[roi.image_id]
        history = [[v.version, v.op, v.label, _pixels_digest(v.mask), v.deleted, v.parent_version]
                   for v in store.roi_history(roi.id)]
        found.append({**want, "image_sha256": image.sha256, "slice_index": image.slice_index, "axis": image.axis,
                      "label": roi.label, "version": roi.version, "deleted": roi.deleted, "area": roi.area,
                      "pixels_sha256": _pixels_digest(roi.mask), "annotator": roi.annotator, "geometry": roi.geometry,
                      "history": history})
        assert roi.mask.shape == tuple(image.shape) and int(roi.mask.sum()) == want["area"]
    assert found == expected["rois"] and len(found) == len(store.list_rois(include_deleted=True)) == 8
    labels = sorted([store.get_image(lab.image_id).sha256, lab.label] for lab in store.list_image_labels())
    assert labels == expected["labels"]
    jobs = [[j.kind, j.status, j.exit_code, j.error, len(store.job_events(j.id))] for j in store.list_jobs()]
    assert jobs == expected["jobs"]
    # Still a working store: the undo stack continues where version 1 left it.
    flat = store.find_roi("roi-flat-1")
    assert store.undo_roi(flat.id, annotator="t", expected_version=flat.version).version == flat.version + 1
