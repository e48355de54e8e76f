"""The store's schema and its migrations, tracked with ``PRAGMA user_version``.

Each migration is a list of statements run in one write transaction together
with the version bump, so a database is always at exactly one version.  Add a
new entry to :data:`MIGRATIONS` for every change; never edit a shipped one.
"""

from __future__ import annotations

import sqlite3

from core.store.errors import StoreError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]

MIGRATIONS: list[list[str]] = [
    # 1: images, ROIs with history, image class labels, jobs
    [
        """CREATE TABLE images (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
            source_path TEXT NOT NULL,
            slice_index INTEGER NOT NULL DEFAULT -1,   -- -1: not a frame/slice
            axis TEXT NOT NULL DEFAULT '',             -- '': 2-D image or frame
            shape TEXT NOT NULL,                       -- JSON [H, W] of the plane
            source_shape TEXT,                         -- JSON shape of the whole file, if known
            display_name TEXT,
            modality TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (sha256, slice_index, axis)
        )""",
        """CREATE TABLE rois (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            geometry TEXT,
            mask_png BLOB NOT NULL,
            mask_sha256 TEXT NOT NULL,
            area INTEGER NOT NULL,
            annotator TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX rois_by_image ON rois(image_id, deleted)",
        """CREATE TABLE roi_versions (
            roi_id INTEGER NOT NULL REFERENCES rois(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            op TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete', 'restore', 'undo')),
            label TEXT NOT NULL,
            geometry TEXT,
            mask_png BLOB NOT NULL,
            mask_sha256 TEXT NOT NULL,
            area INTEGER NOT NULL,
            annotator TEXT NOT NULL,
            deleted INTEGER NOT NULL,
            updated_at TEXT NOT NULL,
            parent_version INTEGER NOT NULL,           -- undo goes back to this version (0: none)
            PRIMARY KEY (roi_id, version)
        )""",
        """CREATE TABLE image_labels (
            image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            annotator TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            argv TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
            pid INTEGER,
            progress REAL,
            last_event TEXT,
            result TEXT,
            result_path TEXT,
            error TEXT,
            exit_code INTEGER,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT
        )""",
        "CREATE INDEX jobs_by_kind ON jobs(kind, id)",
        """CREATE TABLE job_events (
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            event TEXT NOT NULL,
            PRIMARY KEY (job_id, seq)
        )""",
    ],
    # 2: reader studies. Reader profiles and roles; class labels per reader (the table is rebuilt
    # with the key (image, reader), every existing label kept as its annotator's); per-plane pixel
    # spacing; blinded mode (workspace setting or per task list) with one submission per reader x
    # image; model-proposed ROIs and each reader's decision on them.
    [
        """CREATE TABLE readers (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('reader', 'adjudicator')),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE image_labels_v2 (
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            annotator TEXT NOT NULL,
            label TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (image_id, annotator)
        )""",
        "INSERT INTO image_labels_v2 (image_id, annotator, label, updated_at)"
        " SELECT image_id, annotator, label, updated_at FROM image_labels",
        "DROP TABLE image_labels",
        "ALTER TABLE image_labels_v2 RENAME TO image_labels",
        "ALTER TABLE images ADD COLUMN spacing TEXT",   # JSON [row_mm, col_mm] of the plane, if known
        "CREATE INDEX rois_by_annotator ON rois(annotator, image_id)",
        """CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        """CREATE TABLE task_lists (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            blinded INTEGER NOT NULL DEFAULT 0 CHECK (blinded IN (0, 1)),
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE task_list_images (
            task_list_id INTEGER NOT NULL REFERENCES task_lists(id) ON DELETE CASCADE,
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            PRIMARY KEY (task_list_id, image_id)
        )""",
        "CREATE INDEX task_list_images_by_image ON task_list_images(image_id)",
        """CREATE TABLE submissions (
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            reader TEXT NOT NULL,
            submitted_at TEXT NOT NULL,
            PRIMARY KEY (image_id, reader)
        )""",
        """CREATE TABLE roi_proposals (
            id INTEGER PRIMARY KEY,
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            model TEXT NOT NULL,                       -- checkpoint name
            model_sha256 TEXT NOT NULL,                -- of the checkpoint file
            method TEXT NOT NULL,                      -- JSON: explainer, threshold, smoothing, class, ...
            mask_png BLOB NOT NULL,
            mask_sha256 TEXT NOT NULL,
            area INTEGER NOT NULL,
            score REAL,                                -- the model's uncertainty/confidence, if given
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX roi_proposals_by_image ON roi_proposals(image_id)",
        """CREATE TABLE proposal_decisions (
            proposal_id INTEGER NOT NULL REFERENCES roi_proposals(id) ON DELETE CASCADE,
            reader TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('accepted', 'edited', 'rejected')),
            roi_id INTEGER REFERENCES rois(id) ON DELETE SET NULL,   -- the ROI it became (not when rejected)
            decided_at TEXT NOT NULL,
            PRIMARY KEY (proposal_id, reader)
        )""",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to :data:`SCHEMA_VERSION`; returns the version found before.

    ``conn`` must be in autocommit mode; the caller holds no transaction.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:
            raise StoreError(f"the workspace database has schema version {found}, newer than this "
                             f"EquiGuard ({SCHEMA_VERSION}); update EquiGuard to open it")
        for version in range(found, SCHEMA_VERSION):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
        if found != SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
