"""Class labels per image and reader (the few-shot training targets).

Each reader has at most one label per image; setting it again replaces it.
An image's own label (what :meth:`get_image_label` without a reader and
:meth:`list_image_labels` return, and what training uses) is resolved from
its readers' labels by :func:`resolve_label`.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Mapping

from core.errors import ConfigError
from core.store.database import Database, utc_now
from core.store.errors import NotFoundError
from core.store.readers import validate_reader_name
from core.store.records import ImageLabel

__all__ = ["LabelsMixin", "resolve_label"]

_SELECT = "SELECT image_id, label, annotator, updated_at FROM image_labels"


def resolve_label(labels: Iterable[ImageLabel], roles: Mapping[str, str]) -> ImageLabel | None:
    """The image's label from its readers' labels.

    An adjudicator's label wins (the latest, if several adjudicated);
    otherwise the label most readers gave; a tie goes to the label set most
    recently (as before readers existed: the last label set counts).
    """
    labels = list(labels)
    if not labels:
        return None
    adjudicated = [lab for lab in labels if roles.get(lab.annotator) == "adjudicator"]
    if adjudicated:
        return max(adjudicated, key=lambda lab: lab.updated_at)
    votes = Counter(lab.label for lab in labels)
    top = max(votes.values())
    return max((lab for lab in labels if votes[lab.label] == top), key=lambda lab: lab.updated_at)


class LabelsMixin:
    """One class label per image and reader."""

    def set_image_label(self: Database, image_id: int, label: str, annotator: str) -> ImageLabel:
        """Set ``annotator``'s label of the image (replacing their previous one)."""
        if not isinstance(label, str) or not label.strip():
            raise ConfigError("class label must be a non-empty text")
        annotator = validate_reader_name(annotator)
        now = utc_now()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM images WHERE id = ?", (int(image_id),)).fetchone() is None:
                raise NotFoundError(f"image {image_id} does not exist in this workspace")
            conn.execute("INSERT INTO image_labels (image_id, annotator, label, updated_at) VALUES (?, ?, ?, ?)"
                         " ON CONFLICT (image_id, annotator) DO UPDATE SET label = excluded.label,"
                         " updated_at = excluded.updated_at",
                         (int(image_id), annotator, label.strip(), now))
        return ImageLabel(int(image_id), label.strip(), annotator, now)

    def get_image_label(self: Database, image_id: int, reader: str | None = None) -> ImageLabel | None:
        """``reader``'s label of the image, or (no reader) the image's resolved label; None if none."""
        if reader is not None:
            row = self._conn().execute(_SELECT + " WHERE image_id = ? AND annotator = ?",
                                       (int(image_id), validate_reader_name(reader))).fetchone()
            return None if row is None else ImageLabel(*row)
        return resolve_label(self.reader_labels(image_id), self.reader_roles())

    def reader_labels(self: Database, image_id: int | None = None) -> list[ImageLabel]:
        """Every reader's label (of one image, or of all), by image then reader."""
        sql, args = _SELECT, ()
        if image_id is not None:
            sql, args = sql + " WHERE image_id = ?", (int(image_id),)
        return [ImageLabel(*r) for r in self._conn().execute(sql + " ORDER BY image_id, annotator", args).fetchall()]

    def clear_image_label(self: Database, image_id: int, reader: str | None = None) -> None:
        """Remove ``reader``'s label of the image, or every reader's."""
        with self._write() as conn:
            if reader is None:
                conn.execute("DELETE FROM image_labels WHERE image_id = ?", (int(image_id),))
            else:
                conn.execute("DELETE FROM image_labels WHERE image_id = ? AND annotator = ?",
                             (int(image_id), validate_reader_name(reader)))

    def list_image_labels(self: Database, label: str | None = None) -> list[ImageLabel]:
        """The resolved label of every labelled image (optionally only those resolved to ``label``)."""
        roles = self.reader_roles()
        by_image: dict[int, list[ImageLabel]] = {}
        for lab in self.reader_labels():
            by_image.setdefault(lab.image_id, []).append(lab)
        resolved = [resolve_label(labs, roles) for _, labs in sorted(by_image.items())]
        return [lab for lab in resolved if lab is not None and (label is None or lab.label == label)]
