"""The images table: what each ROI is drawn on, identified by content hash + plane."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Sequence

from core.errors import ConfigError
from core.store.database import Database, utc_now
from core.store.errors import NotFoundError
from core.store.records import ImageRecord

__all__ = ["ImagesMixin", "sha256_file", "sha256_bytes"]

_AXES = ("axial", "coronal", "sagittal")


def sha256_bytes(data: bytes) -> str:
    """sha256 hex of in-memory bytes (e.g. a browser upload), the same key as :func:`sha256_file`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 hex of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _image(row: sqlite3.Row | tuple) -> ImageRecord:
    (id_, sha, source, index, axis, shape, source_shape, name, modality, created, spacing) = row
    return ImageRecord(
        id=id_, sha256=sha, source_path=source,
        slice_index=None if index < 0 else index, axis=axis or None,
        shape=tuple(json.loads(shape)), source_shape=None if source_shape is None else tuple(json.loads(source_shape)),
        display_name=name, modality=modality, created_at=created,
        spacing=None if spacing is None else tuple(json.loads(spacing)))


_COLUMNS = ("id, sha256, source_path, slice_index, axis, shape, source_shape, display_name, modality, created_at,"
            " spacing")


def _check_spacing(spacing: Sequence[float] | None) -> str | None:
    if spacing is None:
        return None
    try:
        values = [float(v) for v in spacing]
    except (TypeError, ValueError):
        raise ConfigError(f"pixel spacing must be two numbers (row, col) in mm, got {spacing!r}") from None
    if len(values) != 2 or not all(0 < v < 1e4 for v in values):
        raise ConfigError(f"pixel spacing must be two positive numbers (row, col) in mm, got {tuple(spacing)}")
    return json.dumps(values)


def _check_plane(slice_index: int | None, axis: str | None, shape: Sequence[int]) -> tuple[int, str, list[int]]:
    if axis is not None and axis not in _AXES:
        raise ConfigError(f"axis must be one of {', '.join(_AXES)} (or None for a 2-D image), got {axis!r}")
    if axis is not None and slice_index is None:
        raise ConfigError("a slice of a volume needs its slice_index")
    if slice_index is not None and int(slice_index) < 0:
        raise ConfigError(f"slice/frame index must be >= 0, got {slice_index}")
    dims = [int(v) for v in shape]
    if len(dims) != 2 or min(dims) <= 0:
        raise ConfigError(f"image shape must be the plane's (H, W), got {tuple(shape)}")
    return (-1 if slice_index is None else int(slice_index)), (axis or ""), dims


class ImagesMixin:
    """``add_image`` is idempotent: the same (hash, index, axis) returns the existing id."""

    def add_image(self: Database, sha256: str, source_path: str | os.PathLike, *, shape: Sequence[int],
                  slice_index: int | None = None, axis: str | None = None,
                  source_shape: Sequence[int] | None = None, display_name: str | None = None,
                  modality: str | None = None, spacing: Sequence[float] | None = None) -> int:
        """Register a 2-D plane (whole image, frame or volume slice) and return its id.

        ``spacing`` is the plane's (row, col) pixel size in mm when the source
        file states it (areas and distances in mm); registering a known plane
        again fills in a spacing it did not have.
        """
        with self._write() as conn:
            return self._insert_image(conn, sha256, source_path, shape=shape, slice_index=slice_index, axis=axis,
                                      source_shape=source_shape, display_name=display_name, modality=modality,
                                      spacing=spacing)

    @staticmethod
    def _insert_image(conn: sqlite3.Connection, sha256: str, source_path: str | os.PathLike, *,
                      shape: Sequence[int], slice_index: int | None = None, axis: str | None = None,
                      source_shape: Sequence[int] | None = None, display_name: str | None = None,
                      modality: str | None = None, spacing: Sequence[float] | None = None) -> int:
        """:meth:`add_image` inside the caller's write transaction."""
        sha = str(sha256).lower()
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ConfigError(f"image hash must be a 64-character sha256 hex digest, got {sha256!r}")
        index, ax, dims = _check_plane(slice_index, axis, shape)
        spacing_json = _check_spacing(spacing)
        row = conn.execute("SELECT id, shape, spacing FROM images WHERE sha256 = ? AND slice_index = ? AND axis = ?",
                           (sha, index, ax)).fetchone()
        if row is not None:
            if json.loads(row[1]) != dims:
                raise ConfigError(f"image {row[0]} is already registered with shape {tuple(json.loads(row[1]))},"
                                  f" not {tuple(dims)}")
            if row[2] is None and spacing_json is not None:
                conn.execute("UPDATE images SET spacing = ? WHERE id = ?", (spacing_json, row[0]))
            return int(row[0])
        cur = conn.execute(
            "INSERT INTO images (sha256, source_path, slice_index, axis, shape, source_shape, display_name,"
            " modality, created_at, spacing) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sha, str(source_path), index, ax, json.dumps(dims),
             None if source_shape is None else json.dumps([int(v) for v in source_shape]),
             display_name, modality, utc_now(), spacing_json))
        return int(cur.lastrowid)

    def add_image_file(self, path: str | os.PathLike, *, shape: Sequence[int], slice_index: int | None = None,
                       axis: str | None = None, source_shape: Sequence[int] | None = None,
                       display_name: str | None = None, modality: str | None = None,
                       spacing: Sequence[float] | None = None) -> int:
        """:meth:`add_image` with the hash computed from the file at ``path``."""
        p = Path(path)
        return self.add_image(sha256_file(p), str(p.resolve()), shape=shape, slice_index=slice_index, axis=axis,
                              source_shape=source_shape, display_name=display_name, modality=modality,
                              spacing=spacing)

    def get_image(self: Database, image_id: int) -> ImageRecord:
        row = self._conn().execute(f"SELECT {_COLUMNS} FROM images WHERE id = ?", (int(image_id),)).fetchone()
        if row is None:
            raise NotFoundError(f"image {image_id} does not exist in this workspace")
        return _image(row)

    def find_image(self: Database, sha256: str, slice_index: int | None = None,
                   axis: str | None = None) -> ImageRecord | None:
        row = self._conn().execute(
            f"SELECT {_COLUMNS} FROM images WHERE sha256 = ? AND slice_index = ? AND axis = ?",
            (str(sha256).lower(), -1 if slice_index is None else int(slice_index), axis or "")).fetchone()
        return None if row is None else _image(row)

    def list_images(self: Database, sha256: str | None = None) -> list[ImageRecord]:
        """All images (or all planes of one file), in insertion order."""
        if sha256 is None:
            rows = self._conn().execute(f"SELECT {_COLUMNS} FROM images ORDER BY id").fetchall()
        else:
            rows = self._conn().execute(f"SELECT {_COLUMNS} FROM images WHERE sha256 = ? ORDER BY id",
                                        (str(sha256).lower(),)).fetchall()
        return [_image(r) for r in rows]
