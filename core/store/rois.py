"""ROIs with versions: optimistic concurrency, full edit history, soft delete and undo.

Every change writes the new current row *and* a history row in one
transaction.  Undo works like an editor's undo stack: each version records
the version it followed (``parent_version``); undo re-applies the parent's
state as a new version, so history is never rewritten and an undo can itself
be inspected (or undone by editing again).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any, Mapping

import numpy as np

from core.errors import ConfigError
from core.store.database import Database, utc_now
from core.store.errors import NotFoundError, StaleVersionError, StoreError
from core.store.masks import encode_mask, mask_digest
from core.store.readers import validate_reader_name
from core.store.records import RoiRecord, RoiVersion, loads

__all__ = ["RoisMixin"]

_COLUMNS = ("id, uid, image_id, label, geometry, mask_png, mask_sha256, area, annotator, version, deleted,"
            " created_at, updated_at")
_HISTORY = ("roi_id, version, op, label, geometry, mask_png, mask_sha256, area, annotator, deleted, updated_at,"
            " parent_version")
_UNSET: Any = object()


def _roi(row: tuple) -> RoiRecord:
    (id_, uid, image_id, label, geometry, png, sha, area, annotator, version, deleted, created, updated) = row
    return RoiRecord(id=id_, uid=uid, image_id=image_id, label=label, geometry=loads(geometry), mask_png=bytes(png),
                     mask_sha256=sha, area=area, annotator=annotator, version=version, deleted=bool(deleted),
                     created_at=created, updated_at=updated)


def _version(row: tuple) -> RoiVersion:
    (roi_id, version, op, label, geometry, png, sha, area, annotator, deleted, updated, parent) = row
    return RoiVersion(roi_id=roi_id, version=version, op=op, label=label, geometry=loads(geometry),
                      mask_png=bytes(png), mask_sha256=sha, area=area, annotator=annotator, deleted=bool(deleted),
                      updated_at=updated, parent_version=parent)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what} must be a non-empty text")
    return value.strip()


def _encode(mask: np.ndarray) -> tuple[bytes, str, int]:
    m = np.asarray(mask)
    png = encode_mask(m)
    area = int(np.count_nonzero(m))
    if area == 0:
        raise ConfigError("the ROI mask is empty (the shape lies outside the image?); draw it on the image")
    return png, mask_digest(png), area


def _geometry(geometry: Any) -> str | None:
    if geometry is None:
        return None
    try:
        return json.dumps(geometry, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"ROI geometry must be JSON-serialisable ({exc})") from None


class RoisMixin:
    """Create, edit, delete, undo and list ROIs."""

    # --------------------------------------------------------------- helpers
    @staticmethod
    def _current(conn: sqlite3.Connection, roi_id: int) -> RoiRecord:
        row = conn.execute(f"SELECT {_COLUMNS} FROM rois WHERE id = ?", (int(roi_id),)).fetchone()
        if row is None:
            raise NotFoundError(f"ROI {roi_id} does not exist in this workspace")
        return _roi(row)

    @staticmethod
    def _check_version(current: RoiRecord, expected_version: int | None) -> None:
        if expected_version is not None and int(expected_version) != current.version:
            raise StaleVersionError(
                f"ROI {current.id} was changed by someone else (stored version {current.version}, your edit is "
                f"based on version {expected_version}); reload it and redo your edit")

    @staticmethod
    def _store_version(conn: sqlite3.Connection, current: RoiRecord, *, op: str, label: str, geometry: str | None,
                       png: bytes, sha: str, area: int, annotator: str, deleted: bool, parent: int) -> RoiRecord:
        now = utc_now()
        version = current.version + 1
        cur = conn.execute(
            "UPDATE rois SET label = ?, geometry = ?, mask_png = ?, mask_sha256 = ?, area = ?, annotator = ?,"
            " version = ?, deleted = ?, updated_at = ? WHERE id = ? AND version = ?",
            (label, geometry, png, sha, area, annotator, version, int(deleted), now, current.id, current.version))
        if cur.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE; guard anyway
            raise StaleVersionError(f"ROI {current.id} changed during the edit; reload it and redo your edit")
        conn.execute(f"INSERT INTO roi_versions ({_HISTORY}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (current.id, version, op, label, geometry, png, sha, area, annotator, int(deleted), now, parent))
        return RoisMixin._current(conn, current.id)

    @staticmethod
    def _insert_roi(conn: sqlite3.Connection, image_id: int, label: str, mask: np.ndarray, *, annotator: str,
                    geometry: Any = None, uid: str | None = None) -> RoiRecord:
        """Validate and insert a new ROI (version 1) inside the caller's write transaction."""
        label = _text(label, "ROI label")
        annotator = validate_reader_name(annotator)
        png, sha, area = _encode(mask)
        geometry_json = _geometry(geometry)
        uid = uid or uuid.uuid4().hex
        row = conn.execute("SELECT shape FROM images WHERE id = ?", (int(image_id),)).fetchone()
        if row is None:
            raise NotFoundError(f"image {image_id} does not exist in this workspace")
        shape = tuple(json.loads(row[0]))
        if tuple(np.shape(mask)) != shape:
            raise ConfigError(f"ROI mask has shape {tuple(np.shape(mask))} but image {image_id} is {shape}")
        if conn.execute("SELECT 1 FROM rois WHERE uid = ?", (uid,)).fetchone():
            raise StoreError(f"an ROI with uid {uid} already exists")
        now = utc_now()
        cur = conn.execute(
            "INSERT INTO rois (uid, image_id, label, geometry, mask_png, mask_sha256, area, annotator, version,"
            " deleted, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 0, ?, ?)",
            (uid, int(image_id), label, geometry_json, png, sha, area, annotator, now, now))
        roi_id = int(cur.lastrowid)
        conn.execute(f"INSERT INTO roi_versions ({_HISTORY}) VALUES (?, 1, 'create', ?, ?, ?, ?, ?, ?, 0, ?, 0)",
                     (roi_id, label, geometry_json, png, sha, area, annotator, now))
        return RoisMixin._current(conn, roi_id)

    # ------------------------------------------------------------------- API
    def add_roi(self: Database, image_id: int, label: str, mask: np.ndarray, *, annotator: str,
                geometry: Any = None, uid: str | None = None) -> RoiRecord:
        """Save a new ROI: ``mask`` bool (H, W) in the image's pixels, ``geometry`` the canvas object(s).

        Returns the stored record (version 1).  The mask shape must equal the
        image's (H, W); ``annotator`` is the reader (:func:`validate_reader_name`).
        """
        with self._write() as conn:
            return self._insert_roi(conn, image_id, label, mask, annotator=annotator, geometry=geometry, uid=uid)

    def update_roi(self: Database, roi_id: int, *, expected_version: int, annotator: str,
                   label: str | None = None, mask: np.ndarray | None = None, geometry: Any = _UNSET) -> RoiRecord:
        """Edit an ROI if it is still at ``expected_version``; otherwise raise :class:`StaleVersionError`.

        Fields left out keep their values; the version goes up by one.
        """
        annotator = validate_reader_name(annotator)
        new_label = None if label is None else _text(label, "ROI label")
        encoded = None if mask is None else _encode(mask)
        geometry_json = _UNSET if geometry is _UNSET else _geometry(geometry)
        with self._write() as conn:
            current = self._current(conn, roi_id)
            self._check_version(current, expected_version)
            if current.deleted:
                raise StoreError(f"ROI {roi_id} is deleted; undo the deletion before editing it")
            if mask is not None:
                shape = tuple(json.loads(conn.execute("SELECT shape FROM images WHERE id = ?",
                                                      (current.image_id,)).fetchone()[0]))
                if tuple(np.shape(mask)) != shape:
                    raise ConfigError(f"ROI mask has shape {tuple(np.shape(mask))} but its image is {shape}")
            png, sha, area = encoded or (current.mask_png, current.mask_sha256, current.area)
            old_geometry = conn.execute("SELECT geometry FROM rois WHERE id = ?", (current.id,)).fetchone()[0]
            return self._store_version(
                conn, current, op="update", label=new_label or current.label,
                geometry=old_geometry if geometry_json is _UNSET else geometry_json,
                png=png, sha=sha, area=area, annotator=annotator, deleted=False, parent=current.version)

    def _set_deleted(self: Database, roi_id: int, deleted: bool, annotator: str,
                     expected_version: int | None) -> RoiRecord:
        annotator = validate_reader_name(annotator)
        with self._write() as conn:
            current = self._current(conn, roi_id)
            self._check_version(current, expected_version)
            if current.deleted == deleted:
                return current
            geometry = conn.execute("SELECT geometry FROM rois WHERE id = ?", (current.id,)).fetchone()[0]
            return self._store_version(
                conn, current, op="delete" if deleted else "restore", label=current.label, geometry=geometry,
                png=current.mask_png, sha=current.mask_sha256, area=current.area, annotator=annotator,
                deleted=deleted, parent=current.version)

    def delete_roi(self, roi_id: int, *, annotator: str, expected_version: int | None = None) -> RoiRecord:
        """Soft-delete (hidden from :meth:`list_rois`, kept in history, undoable). Deleting twice is a no-op."""
        return self._set_deleted(roi_id, True, annotator, expected_version)

    def restore_roi(self, roi_id: int, *, annotator: str, expected_version: int | None = None) -> RoiRecord:
        """Bring back a soft-deleted ROI as a new version."""
        return self._set_deleted(roi_id, False, annotator, expected_version)

    def undo_roi(self: Database, roi_id: int, *, annotator: str, expected_version: int | None = None) -> RoiRecord:
        """Step back one edit: the state before the last not-yet-undone change becomes a new version.

        Undoing the creation deletes the ROI (softly); raises :class:`StoreError`
        when there is nothing left to undo.
        """
        annotator = validate_reader_name(annotator)
        with self._write() as conn:
            current = self._current(conn, roi_id)
            self._check_version(current, expected_version)
            head = _version(conn.execute(f"SELECT {_HISTORY} FROM roi_versions WHERE roi_id = ? AND version = ?",
                                         (current.id, current.version)).fetchone())
            if head.parent_version == 0:
                if current.deleted:
                    raise StoreError(f"ROI {roi_id} has nothing left to undo")
                # undoing the creation: hide it, with nothing further to undo
                target, parent, deleted = head, 0, True
            else:
                target = _version(conn.execute(
                    f"SELECT {_HISTORY} FROM roi_versions WHERE roi_id = ? AND version = ?",
                    (current.id, head.parent_version)).fetchone())
                parent, deleted = target.parent_version, target.deleted
            geometry = None if target.geometry is None else _geometry(target.geometry)
            return self._store_version(
                conn, current, op="undo", label=target.label, geometry=geometry, png=target.mask_png,
                sha=target.mask_sha256, area=target.area, annotator=annotator, deleted=deleted, parent=parent)

    def purge_roi(self: Database, roi_id: int) -> None:
        """Remove an ROI and its whole history for good (cannot be undone)."""
        with self._write() as conn:
            if conn.execute("DELETE FROM rois WHERE id = ?", (int(roi_id),)).rowcount != 1:
                raise NotFoundError(f"ROI {roi_id} does not exist in this workspace")

    def get_roi(self: Database, roi_id: int) -> RoiRecord:
        """The ROI's current state (also when soft-deleted; see ``.deleted``)."""
        return self._current(self._conn(), roi_id)

    def find_roi(self: Database, uid: str) -> RoiRecord | None:
        row = self._conn().execute(f"SELECT {_COLUMNS} FROM rois WHERE uid = ?", (uid,)).fetchone()
        return None if row is None else _roi(row)

    def list_rois(self: Database, image_id: int | None = None, *, label: str | None = None,
                  annotator: str | None = None, include_deleted: bool = False) -> list[RoiRecord]:
        """ROIs (oldest first), optionally of one image, one label and/or one reader (``annotator``).

        This lists every reader's ROIs; what a reader may see in blinded mode
        is :meth:`visible_rois`.
        """
        where, args = [], []
        if image_id is not None:
            where.append("image_id = ?")
            args.append(int(image_id))
        if label is not None:
            where.append("label = ?")
            args.append(label)
        if annotator is not None:
            where.append("annotator = ?")
            args.append(annotator)
        if not include_deleted:
            where.append("deleted = 0")
        sql = f"SELECT {_COLUMNS} FROM rois" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        return [_roi(r) for r in self._conn().execute(sql, args).fetchall()]

    def roi_history(self: Database, roi_id: int) -> list[RoiVersion]:
        """Every version of an ROI, oldest first."""
        rows = self._conn().execute(f"SELECT {_HISTORY} FROM roi_versions WHERE roi_id = ? ORDER BY version",
                                    (int(roi_id),)).fetchall()
        if not rows:
            raise NotFoundError(f"ROI {roi_id} does not exist in this workspace")
        return [_version(r) for r in rows]

    def image_mask(self: Database, image_id: int, label: str | None = None) -> np.ndarray:
        """Union of the image's live ROI masks (of one ``label``, or all): bool (H, W); all False if none."""
        image = self._conn().execute("SELECT shape FROM images WHERE id = ?", (int(image_id),)).fetchone()
        if image is None:
            raise NotFoundError(f"image {image_id} does not exist in this workspace")
        mask = np.zeros(tuple(json.loads(image[0])), dtype=bool)
        for roi in self.list_rois(image_id, label=label):
            mask |= roi.mask
        return mask

    def roi_counts(self: Database) -> Mapping[str, int]:
        """Live ROIs per label."""
        rows = self._conn().execute("SELECT label, COUNT(*) FROM rois WHERE deleted = 0 GROUP BY label").fetchall()
        return dict(rows)
