"""Image files in the workspace and the 2-D planes (frames, slices) the store annotates.

The store registers one row per annotated plane (``slice_index``/``axis``);
files live under ``<workspace>/images``.  Uploads are validated by the real
loader before anything is written, and written atomically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.atomic import write_bytes_atomic
from core.workspace import Workspace

__all__ = ["Plane", "images_dir", "save_upload", "image_files", "plane_of", "register_plane", "render_plane", "find_plane",
           "plane_spacing", "plane_fields"]


@dataclass(frozen=True)
class Plane:
    """Which 2-D plane of a file: ``axis`` None is frame ``index``; otherwise a volume slice."""

    index: int = 0
    axis: str | None = None


def images_dir(workspace: Workspace) -> Path:
    path = workspace.root / "images"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _safe_name(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "image"
    return base[-120:]


def save_upload(workspace: Workspace, data: bytes, name: str):
    """Check ``data`` loads as an image, then store it under ``images/uploads``.

    Returns ``(path, MedicalImage)``; raises :class:`LoadError` (one line)
    for files over the upload limit (:mod:`core.studio.uploads`) or
    unreadable, and writes nothing then.
    """
    from core.io import load_image
    from core.store import sha256_bytes
    from core.studio.uploads import check_upload

    check_upload(data, name)
    image = load_image(data, name=name)
    folder = images_dir(workspace) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{sha256_bytes(data)[:12]}-{_safe_name(name)}"
    if not target.exists():
        write_bytes_atomic(target, data)
    return target, image


def image_files(workspace: Workspace) -> list[Path]:
    """Every file the studio can open: those under ``images/`` and the sources of stored planes."""
    from core.store import AnnotationStore

    found = {p.resolve() for p in images_dir(workspace).rglob("*") if p.is_file() and not p.name.startswith(".")}
    found |= {Path(rec.source_path) for rec in AnnotationStore(workspace).list_images()
              if Path(rec.source_path).is_file()}
    return sorted(found, key=lambda p: (str(p.parent), p.name))


def plane_of(record) -> Plane:
    """The :class:`Plane` an :class:`core.store.ImageRecord` refers to."""
    return Plane(record.slice_index or 0, record.axis)


def render_plane(image, plane: Plane, window=None) -> np.ndarray:
    """Display values in [0, 1] of one plane: (H, W) or (H, W, 3)."""
    return image.render(plane.index, window=window, axis=plane.axis)


def plane_spacing(image, plane: Plane) -> tuple[float, float] | None:
    """(row, col) mm of the plane's pixels when the file states them (volume slices, DICOM with spacing)."""
    if plane.axis is not None:
        return tuple(float(v) for v in image.slice_spacing(plane.axis))
    if image.format == "dicom" and not image.metadata.get("SpacingSource", "").startswith("unknown"):
        return tuple(float(v) for v in image.spacing[:2])
    return None


def plane_fields(path: Path, image, plane: Plane, sha256: str | None = None) -> dict:
    """The :meth:`~core.store.AnnotationStore.add_image` arguments that register a plane of ``path``."""
    from core.store import sha256_file

    path = Path(path)
    return dict(sha256=sha256 or sha256_file(path), source_path=str(path.resolve()),
                shape=render_plane(image, plane).shape[:2], slice_index=_slice_index(image, plane), axis=plane.axis,
                source_shape=tuple(image.shape), display_name=path.name, modality=image.modality,
                spacing=plane_spacing(image, plane))


def register_plane(store, path: Path, image, plane: Plane) -> int:
    """The store id of a plane of ``path`` (registered on first use)."""
    return store.add_image(**plane_fields(path, image, plane))


def _slice_index(image, plane: Plane) -> int | None:
    if plane.axis is not None:
        return plane.index
    return plane.index if image.n_frames > 1 else None


def find_plane(store, sha256: str, image, plane: Plane):
    """The store's record of this plane of the file with hash ``sha256``, or None if not registered."""
    return store.find_image(sha256, _slice_index(image, plane), plane.axis)
