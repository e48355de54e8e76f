"""Blinded reading: task lists, submissions, and what each reader may see.

Blinding is on for an image when the workspace setting is on
(:meth:`set_workspace_blinded`) or the image is on a blinded task list.  On
a blinded image a ``reader`` sees only their own ROIs and label until they
have submitted their reading of it (:meth:`submit_image`); an
``adjudicator`` always sees everything, and so does everyone on an image
that is not blinded.  Pages ask :meth:`visible_rois` / :meth:`visible_labels`
instead of listing everything.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable

from core.errors import ConfigError
from core.store.database import Database, utc_now
from core.store.errors import NotFoundError
from core.store.readers import validate_reader_name
from core.store.records import ImageLabel, RoiRecord, Submission, TaskList

__all__ = ["BlindingMixin"]

_BLINDED_KEY = "blinded"


def _blinded_images(conn: sqlite3.Connection) -> set[int] | None:
    """Ids of images on a blinded task list, or None when the whole workspace is blinded."""
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (_BLINDED_KEY,)).fetchone()
    if row is not None and row[0] == "1":
        return None
    return {r[0] for r in conn.execute("SELECT DISTINCT t.image_id FROM task_list_images t"
                                       " JOIN task_lists l ON l.id = t.task_list_id WHERE l.blinded = 1")}


class BlindingMixin:
    """Workspace/task-list blinding, submissions, and the visibility queries built on them."""

    # ------------------------------------------------------------- settings
    def set_workspace_blinded(self: Database, blinded: bool) -> None:
        """Turn blinded reading on or off for every image of the workspace."""
        with self._write() as conn:
            conn.execute("INSERT INTO settings (key, value) VALUES (?, ?)"
                         " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         (_BLINDED_KEY, "1" if blinded else "0"))

    def workspace_blinded(self: Database) -> bool:
        row = self._conn().execute("SELECT value FROM settings WHERE key = ?", (_BLINDED_KEY,)).fetchone()
        return row is not None and row[0] == "1"

    def is_blinded(self: Database, image_id: int) -> bool:
        """Whether blinded reading applies to this image (workspace setting or a blinded task list)."""
        blinded = _blinded_images(self._conn())
        return blinded is None or int(image_id) in blinded

    def blinded_image_ids(self: Database) -> set[int] | None:
        """Ids of the blinded images; None means every image (the workspace setting is on)."""
        return _blinded_images(self._conn())

    # ----------------------------------------------------------- task lists
    def create_task_list(self: Database, name: str, image_ids: Iterable[int], *, blinded: bool = False) -> TaskList:
        """A named list of images in reading order; ``blinded`` blinds its images."""
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a task list needs a non-empty name")
        ids = [int(i) for i in image_ids]
        if len(set(ids)) != len(ids):
            raise ConfigError("a task list names each image once")
        now = utc_now()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM task_lists WHERE name = ?", (name.strip(),)).fetchone():
                raise ConfigError(f"a task list named {name.strip()!r} already exists")
            known = {r[0] for r in conn.execute("SELECT id FROM images")}
            missing = [i for i in ids if i not in known]
            if missing:
                raise NotFoundError(f"image id(s) {missing[:5]} do not exist in this workspace")
            cur = conn.execute("INSERT INTO task_lists (name, blinded, created_at) VALUES (?, ?, ?)",
                               (name.strip(), int(bool(blinded)), now))
            list_id = int(cur.lastrowid)
            conn.executemany("INSERT INTO task_list_images (task_list_id, image_id, position) VALUES (?, ?, ?)",
                             [(list_id, image_id, k) for k, image_id in enumerate(ids)])
        return TaskList(list_id, name.strip(), bool(blinded), now, tuple(ids))

    def list_task_lists(self: Database) -> list[TaskList]:
        conn = self._conn()
        members: dict[int, list[int]] = {}
        for list_id, image_id in conn.execute("SELECT task_list_id, image_id FROM task_list_images"
                                              " ORDER BY task_list_id, position"):
            members.setdefault(list_id, []).append(image_id)
        return [TaskList(i, n, bool(b), c, tuple(members.get(i, ())))
                for i, n, b, c in conn.execute("SELECT id, name, blinded, created_at FROM task_lists ORDER BY id")]

    def get_task_list(self: Database, name_or_id: str | int) -> TaskList:
        for task_list in self.list_task_lists():
            if task_list.id == name_or_id or task_list.name == name_or_id:
                return task_list
        raise NotFoundError(f"task list {name_or_id!r} does not exist in this workspace")

    # ---------------------------------------------------------- submissions
    def submit_image(self: Database, image_id: int, reader: str) -> Submission:
        """Record that ``reader`` finished reading the image (idempotent: the first time is kept)."""
        reader = validate_reader_name(reader)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM images WHERE id = ?", (int(image_id),)).fetchone() is None:
                raise NotFoundError(f"image {image_id} does not exist in this workspace")
            conn.execute("INSERT OR IGNORE INTO submissions (image_id, reader, submitted_at) VALUES (?, ?, ?)",
                         (int(image_id), reader, utc_now()))
            row = conn.execute("SELECT submitted_at FROM submissions WHERE image_id = ? AND reader = ?",
                               (int(image_id), reader)).fetchone()
        return Submission(int(image_id), reader, row[0])

    def submissions(self: Database, image_id: int | None = None, reader: str | None = None) -> list[Submission]:
        where, args = [], []
        if image_id is not None:
            where.append("image_id = ?")
            args.append(int(image_id))
        if reader is not None:
            where.append("reader = ?")
            args.append(validate_reader_name(reader))
        sql = "SELECT image_id, reader, submitted_at FROM submissions"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY image_id, submitted_at"
        return [Submission(*r) for r in self._conn().execute(sql, args).fetchall()]

    def has_submitted(self: Database, image_id: int, reader: str) -> bool:
        return bool(self.submissions(image_id, reader))

    # ----------------------------------------------------------- visibility
    def sees_everything(self: Database, image_id: int, reader: str) -> bool:
        """True when ``reader`` may see every reader's work on the image."""
        reader = validate_reader_name(reader)
        return (self.get_reader(reader).is_adjudicator or not self.is_blinded(image_id)
                or self.has_submitted(image_id, reader))

    def unblinded_image_ids(self: Database, reader: str | None) -> set[int] | None:
        """Ids of the images on which ``reader`` may see everyone's work; None means all of them.

        Without a reader only the images that are not blinded qualify.
        """
        conn = self._conn()
        blinded = _blinded_images(conn)
        if blinded is not None and not blinded:
            return None
        name = None if reader is None else validate_reader_name(reader)
        if name is not None and self.get_reader(name).is_adjudicator:
            return None
        everything = {r[0] for r in conn.execute("SELECT id FROM images")}
        mine = set() if name is None else {r[0] for r in conn.execute(
            "SELECT image_id FROM submissions WHERE reader = ?", (name,))}
        return (mine & everything) if blinded is None else (everything - blinded) | mine

    def visible_rois(self: Database, image_id: int, reader: str, *, label: str | None = None,
                     include_deleted: bool = False) -> list[RoiRecord]:
        """The ROIs of the image that ``reader`` may see (only their own while blinded)."""
        reader = validate_reader_name(reader)
        own = None if self.sees_everything(image_id, reader) else reader
        return self.list_rois(image_id, label=label, annotator=own, include_deleted=include_deleted)

    def visible_labels(self: Database, image_id: int, reader: str) -> list[ImageLabel]:
        """The readers' class labels of the image that ``reader`` may see (only their own while blinded)."""
        reader = validate_reader_name(reader)
        labels = self.reader_labels(image_id)
        if self.sees_everything(image_id, reader):
            return labels
        return [lab for lab in labels if lab.annotator == reader]
