"""The export bundle's manifest: its layout, and validation of a manifest read back.

A bundle is a folder::

    manifest.json
    masks/<image key>/<roi uid>.png      2-D masks, image pixels, 8-bit PNG 0/255
    volumes/<volume key>/<label>.nii.gz  per-label 3-D masks in the source volume's affine

Paths in the manifest are relative to the manifest's folder and must stay inside it.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

from core.errors import ConfigError
from core.store.errors import ManifestError
from core.store.readers import validate_reader_name

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST_NAME", "image_key", "slug", "validate_manifest", "bundle_path"]

FORMAT = "equiguard-annotations"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
_AXES = ("axial", "coronal", "sagittal")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def image_key(sha256: str, slice_index: int | None, axis: str | None) -> str:
    """A stable, identifier-free name for an image plane, e.g. ``3f2a...-axial-0042``."""
    base = sha256[:16]
    if slice_index is None:
        return base
    return f"{base}-{axis or 'frame'}-{int(slice_index):04d}"


def slug(text: str) -> str:
    """A file-name-safe form of a label."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", text.strip()).strip("._")
    return s[:60] or "label"


def bundle_path(root: Path, relative: Any, what: str) -> Path:
    """Resolve a manifest path, refusing absolute paths and escapes from the bundle."""
    if not isinstance(relative, str) or not relative:
        raise ManifestError(f"{what} must be a relative file path")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or "\\" in relative:
        raise ManifestError(f"{what} {relative!r} must be a path inside the bundle")
    return root.joinpath(*pure.parts)


def _need(obj: dict, key: str, kind: type | tuple, where: str, optional: bool = False) -> Any:
    if key not in obj or obj[key] is None:
        if optional:
            return None
        raise ManifestError(f"{where} is missing {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(f"{where} has an invalid {key!r}: {value!r}")
    return value


def _reader(obj: dict, where: str, optional: bool = False) -> None:
    """The ``annotator`` must be a valid reader name (checked before anything is imported)."""
    name = _need(obj, "annotator", str, where, optional=optional)
    if name is not None:
        try:
            validate_reader_name(name)
        except ConfigError as exc:
            raise ManifestError(f"{where}: {exc}") from None


def validate_manifest(doc: Any) -> dict:
    """Check a parsed manifest's structure; raise :class:`ManifestError` with the first problem."""
    if not isinstance(doc, dict):
        raise ManifestError("manifest must be a JSON object")
    if doc.get("format") != FORMAT:
        raise ManifestError(f"not an EquiGuard annotation manifest (format {doc.get('format')!r})")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ManifestError(f"unsupported manifest format_version {doc.get('format_version')!r} "
                            f"(this EquiGuard reads {FORMAT_VERSION})")
    images = _need(doc, "images", list, "manifest")
    rois = _need(doc, "rois", list, "manifest")
    keys = set()
    for i, img in enumerate(images):
        where = f"manifest image #{i}"
        if not isinstance(img, dict):
            raise ManifestError(f"{where} must be an object")
        key = _need(img, "key", str, where)
        if key in keys:
            raise ManifestError(f"{where} repeats the key {key!r}")
        keys.add(key)
        if not _HEX64.match(_need(img, "sha256", str, where)):
            raise ManifestError(f"{where} has an invalid sha256")
        index = _need(img, "slice_index", int, where, optional=True)
        axis = _need(img, "axis", str, where, optional=True)
        if axis is not None and (axis not in _AXES or index is None):
            raise ManifestError(f"{where} has an invalid axis/slice_index ({axis!r}, {index!r})")
        if index is not None and index < 0:
            raise ManifestError(f"{where} has a negative slice_index")
        shape = _need(img, "shape", list, where)
        if len(shape) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape):
            raise ManifestError(f"{where} has an invalid shape {shape!r}; expected [H, W]")
        label = img.get("class_label")
        if label is not None:
            if not isinstance(label, dict):
                raise ManifestError(f"{where} has an invalid class_label")
            _need(label, "label", str, f"{where} class_label")
            _reader(label, f"{where} class_label", optional=True)
        readers = _need(img, "reader_labels", list, where, optional=True) or []
        for k, lab in enumerate(readers):
            if not isinstance(lab, dict) or not _need(lab, "label", str, f"{where} reader label #{k}").strip():
                raise ManifestError(f"{where} has an invalid reader label #{k}")
            _reader(lab, f"{where} reader label #{k}")
    uids = set()
    for i, roi in enumerate(rois):
        where = f"manifest ROI #{i}"
        if not isinstance(roi, dict):
            raise ManifestError(f"{where} must be an object")
        uid = _need(roi, "uid", str, where)
        if uid in uids:
            raise ManifestError(f"{where} repeats the uid {uid!r}")
        uids.add(uid)
        if _need(roi, "image", str, where) not in keys:
            raise ManifestError(f"{where} refers to image {roi['image']!r}, which the manifest does not list")
        for key in ("label", "annotator", "mask"):
            if not _need(roi, key, str, where).strip():
                raise ManifestError(f"{where} has an empty {key!r}")
        _reader(roi, where)
        if not _HEX64.match(_need(roi, "mask_sha256", str, where)):
            raise ManifestError(f"{where} has an invalid mask_sha256")
    return doc
