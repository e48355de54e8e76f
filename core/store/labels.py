"""Class labels per image (the few-shot training targets)."""

from __future__ import annotations

from core.errors import ConfigError
from core.store.database import Database, utc_now
from core.store.errors import NotFoundError
from core.store.records import ImageLabel

__all__ = ["LabelsMixin"]


class LabelsMixin:
    """One class label per image; setting it again replaces it."""

    def set_image_label(self: Database, image_id: int, label: str, annotator: str) -> ImageLabel:
        if not isinstance(label, str) or not label.strip():
            raise ConfigError("class label must be a non-empty text")
        if not isinstance(annotator, str) or not annotator.strip():
            raise ConfigError("annotator name must be a non-empty text")
        now = utc_now()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM images WHERE id = ?", (int(image_id),)).fetchone() is None:
                raise NotFoundError(f"image {image_id} does not exist in this workspace")
            conn.execute("INSERT INTO image_labels (image_id, label, annotator, updated_at) VALUES (?, ?, ?, ?)"
                         " ON CONFLICT (image_id) DO UPDATE SET label = excluded.label,"
                         " annotator = excluded.annotator, updated_at = excluded.updated_at",
                         (int(image_id), label.strip(), annotator.strip(), now))
        return ImageLabel(int(image_id), label.strip(), annotator.strip(), now)

    def get_image_label(self: Database, image_id: int) -> ImageLabel | None:
        row = self._conn().execute("SELECT image_id, label, annotator, updated_at FROM image_labels"
                                   " WHERE image_id = ?", (int(image_id),)).fetchone()
        return None if row is None else ImageLabel(*row)

    def clear_image_label(self: Database, image_id: int) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM image_labels WHERE image_id = ?", (int(image_id),))

    def list_image_labels(self: Database, label: str | None = None) -> list[ImageLabel]:
        sql = "SELECT image_id, label, annotator, updated_at FROM image_labels"
        args: tuple = ()
        if label is not None:
            sql += " WHERE label = ?"
            args = (label,)
        return [ImageLabel(*r) for r in self._conn().execute(sql + " ORDER BY image_id", args).fetchall()]
