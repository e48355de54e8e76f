"""Whole-workspace listings in a fixed number of queries (never one query per image).

:meth:`image_overview` is the progress table of the Annotate page and the
image list of the Agreement page; :meth:`live_roi_masks` feeds agreement and
consensus computations with every live ROI mask in one query.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from core.store.blinding import _blinded_images
from core.store.database import Database
from core.store.images import _COLUMNS as _IMAGE_COLUMNS
from core.store.images import _image
from core.store.labels import resolve_label
from core.store.readers import validate_reader_name
from core.store.records import ImageLabel, ImageOverview

__all__ = ["OverviewMixin", "RoiMaskRow"]


@dataclass(frozen=True)
class RoiMaskRow:
    """One live ROI as agreement code needs it: the encoded mask (decode with :func:`core.store.decode_mask`)."""

    image_id: int
    reader: str
    label: str
    mask_png: bytes


def _in(ids: Iterable[int] | None, column: str = "image_id") -> tuple[str, list[int]]:
    if ids is None:
        return "", []
    ids = [int(i) for i in ids]
    return f" AND {column} IN ({', '.join('?' * len(ids))})" if ids else " AND 0", ids


class OverviewMixin:
    """Aggregated per-image listings."""

    def image_overview(self: Database, reader: str | None = None, *,
                       image_ids: Iterable[int] | None = None) -> list[ImageOverview]:
        """One row per image (in ``image_ids`` order, default all by id) with what ``reader`` may see.

        Without ``reader`` everything is counted (the adjudicator's view).
        Five queries in one read snapshot, whatever the number of images.
        """
        name = None if reader is None else validate_reader_name(reader)
        with self._read() as conn:
            images = {row[0]: _image(row) for row in conn.execute(f"SELECT {_IMAGE_COLUMNS} FROM images")}
            counts: dict[int, dict[str, int]] = defaultdict(dict)
            for image_id, annotator, n in conn.execute(
                    "SELECT image_id, annotator, COUNT(*) FROM rois WHERE deleted = 0 GROUP BY image_id, annotator"):
                counts[image_id][annotator] = n
            labels: dict[int, list[ImageLabel]] = defaultdict(list)
            for row in conn.execute("SELECT image_id, label, annotator, updated_at FROM image_labels"):
                labels[row[0]].append(ImageLabel(*row))
            submitted: dict[int, set[str]] = defaultdict(set)
            for image_id, who in conn.execute("SELECT image_id, reader FROM submissions"):
                submitted[image_id].add(who)
            roles = dict(conn.execute("SELECT name, role FROM readers").fetchall())
            blinded = _blinded_images(conn)
        order = sorted(images) if image_ids is None else [int(i) for i in image_ids if int(i) in images]
        rows = []
        for image_id in order:
            is_blinded = blinded is None or image_id in blinded
            sees_all = (name is None or roles.get(name) == "adjudicator" or not is_blinded
                        or name in submitted[image_id])
            mine = counts[image_id] if sees_all else {k: v for k, v in counts[image_id].items() if k == name}
            labs = labels[image_id] if sees_all else [lab for lab in labels[image_id] if lab.annotator == name]
            resolved = resolve_label(labs, roles)
            rows.append(ImageOverview(
                image=images[image_id], n_rois=sum(mine.values()),
                readers=tuple(sorted(set(mine) | {lab.annotator for lab in labs})),
                class_label=None if resolved is None else resolved.label, blinded=is_blinded,
                submitted=name is not None and name in submitted[image_id],
                n_submissions=len(submitted[image_id])))
        return rows

    def live_roi_masks(self: Database, image_ids: Iterable[int] | None = None,
                       label: str | None = None) -> list[RoiMaskRow]:
        """Every live ROI's (image, reader, label, PNG mask), in one query, ordered by image, reader, label."""
        where, args = _in(image_ids)
        if label is not None:
            where += " AND label = ?"
            args.append(label)
        rows = self._conn().execute("SELECT image_id, annotator, label, mask_png FROM rois WHERE deleted = 0"
                                    + where + " ORDER BY image_id, annotator, label, id", args).fetchall()
        return [RoiMaskRow(i, r, lab, bytes(png)) for i, r, lab, png in rows]

    def revision(self: Database) -> str:
        """A token that changes whenever an image, ROI, label, submission, profile or blinding changes.

        For caches of whole-workspace computations (the Agreement page).
        """
        row = self._conn().execute(
            "SELECT (SELECT COUNT(*) || ':' || IFNULL(MAX(id), 0) FROM images),"
            " (SELECT COUNT(*) || ':' || IFNULL(MAX(updated_at), '') FROM rois),"
            " (SELECT COUNT(*) || ':' || IFNULL(MAX(updated_at), '') FROM image_labels),"
            " (SELECT COUNT(*) || ':' || IFNULL(MAX(submitted_at), '') FROM submissions),"
            " (SELECT COUNT(*) || ':' || IFNULL(MAX(updated_at), '') FROM readers),"
            " (SELECT group_concat(key || '=' || value) FROM settings),"
            " (SELECT COUNT(*) FROM task_list_images)").fetchone()
        return "|".join(str(v) for v in row)

    def get_images(self: Database, image_ids: Iterable[int] | None = None) -> dict:
        """``{id: ImageRecord}`` for ``image_ids`` (default all) in one query."""
        where, args = _in(image_ids, "id")
        rows = self._conn().execute(f"SELECT {_IMAGE_COLUMNS} FROM images WHERE 1" + where, args).fetchall()
        return {row[0]: _image(row) for row in rows}
