"""De-identified export bundles: 2-D PNG masks, per-label NIfTI volumes, a JSON manifest.

By default nothing in a bundle identifies a patient: no DICOM (or other
source) file is copied, source paths and display names are replaced by a
key derived from the file's content hash, and DICOM metadata is never read
into it.  What remains per image is its sha256 (to re-link the annotations
to a file one already has), plane index/axis, shape and modality.  ROI
labels, class labels and annotator names are exported as typed: do not put
patient identifiers into them.  Canvas geometry is exported without embedded
images, data URLs or typed text (:func:`scrub_geometry`).

The bundle is assembled in a temporary folder next to the target and renamed
into place, so a crash never leaves a half-written bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from core.errors import ConfigError, EquiGuardError
from core.progress import ProgressCallback, ProgressEvent
from core.store.database import utc_now
from core.store.images import sha256_file
from core.store.masks import encode_mask_8bit, mask_digest
from core.store.manifest import FORMAT, FORMAT_VERSION, MANIFEST_NAME, image_key, slug
from core.store.records import ImageRecord
from core.store.store import AnnotationStore

__all__ = ["ExportResult", "export_bundle", "scrub_geometry"]


@dataclass
class ExportResult:
    """Where the bundle went and what it holds; ``warnings`` lists skipped volumes."""

    folder: Path
    manifest: Path
    n_images: int
    n_rois: int
    n_volumes: int
    warnings: list[str] = field(default_factory=list)


# Canvas JSON fields that can carry pixels or free text rather than geometry:
# embedded images (a background could be a rendered DICOM with burned-in
# identifiers) and typed text.
_NON_GEOMETRY_KEYS = frozenset({"src", "backgroundImage", "overlayImage", "text", "styles", "path_data"})


def scrub_geometry(value: Any) -> Any:
    """Canvas geometry without embedded images, data URLs or typed text (applied to every export)."""
    if isinstance(value, dict):
        return {k: scrub_geometry(v) for k, v in value.items()
                if k not in _NON_GEOMETRY_KEYS and not (isinstance(v, str) and v.startswith("data:"))}
    if isinstance(value, list):
        return [scrub_geometry(v) for v in value if not (isinstance(v, str) and v.startswith("data:"))]
    return value


def _volume_masks(store: AnnotationStore, planes: list[ImageRecord], rois_by_image: dict[int, list],
                  folder: Path, vol_key: str) -> tuple[list[dict], str | None]:
    """Write one NIfTI per label for the slices of one source volume along one axis."""
    from core.io import load_image

    first = planes[0]
    source = Path(first.source_path)
    if not source.is_file():
        return [], f"volume {vol_key}: source file is not available, 3-D masks skipped (2-D masks exported)"
    if sha256_file(source) != first.sha256:
        return [], f"volume {vol_key}: source file changed since annotation, 3-D masks skipped"
    image = load_image(source, name=vol_key)  # messages land in the manifest: name the key, not the file
    if not image.is_volume:
        return [], f"volume {vol_key}: source is not a 3-D volume, 3-D masks skipped"
    by_label: dict[str, dict[int, np.ndarray]] = defaultdict(dict)
    for plane in planes:
        for roi in rois_by_image.get(plane.id, []):
            slot = by_label[roi.label]
            mask = roi.mask
            slot[plane.slice_index] = slot[plane.slice_index] | mask if plane.slice_index in slot else mask
    out = []
    target = folder / "volumes" / vol_key
    target.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for label in sorted(by_label):
        name = slug(label)
        while name in used:
            name += "_"
        used.add(name)
        volume = image.slices_to_volume(by_label[label], first.axis)
        rel = f"volumes/{vol_key}/{name}.nii.gz"
        image.save_mask_nifti(volume, folder / rel)
        out.append({"file": rel, "source_sha256": first.sha256, "axis": first.axis, "label": label,
                    "slices": sorted(int(i) for i in by_label[label]), "voxels": int(volume.sum())})
    return out, None


def export_bundle(store: AnnotationStore, folder: str | os.PathLike, *, image_ids: Iterable[int] | None = None,
                  include_source_paths: bool = False, include_geometry: bool = True, volumes: bool = True,
                  progress: ProgressCallback | None = None) -> ExportResult:
    """Write the live ROIs (and class labels) of ``image_ids`` (default: all images) as a bundle.

    ``folder`` must not exist yet (or be empty).  ``include_source_paths``
    puts the original file paths and display names in the manifest (the
    bundle is then *not* de-identified).  ``volumes`` adds per-label NIfTI
    masks for ROIs drawn on slices of a 3-D volume whose source file is still
    present and unchanged.
    """
    folder = Path(folder).expanduser().resolve()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(f"export folder {folder} already exists and is not empty; choose a new folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    wanted = None if image_ids is None else {int(i) for i in image_ids}
    images = [im for im in store.list_images() if wanted is None or im.id in wanted]
    if wanted is not None and len(images) != len(wanted):
        missing = sorted(wanted - {im.id for im in images})
        raise ConfigError(f"image id(s) {missing} do not exist in this workspace")
    rois_by_image = {im.id: store.list_rois(im.id) for im in images}
    total = sum(len(v) for v in rois_by_image.values()) + 1
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    notes: list[str] = []
    try:
        manifest_images, manifest_rois = [], []
        step = 0
        for im in images:
            key = image_key(im.sha256, im.slice_index, im.axis)
            label = store.get_image_label(im.id)
            entry = {
                "key": key, "sha256": im.sha256, "slice_index": im.slice_index, "axis": im.axis,
                "shape": list(im.shape), "source_shape": None if im.source_shape is None else list(im.source_shape),
                "modality": im.modality,
                "class_label": None if label is None else {"label": label.label, "annotator": label.annotator,
                                                           "updated_at": label.updated_at},
                "reader_labels": [{"label": lab.label, "annotator": lab.annotator, "updated_at": lab.updated_at}
                                  for lab in store.reader_labels(im.id)],
            }
            if include_source_paths:
                entry["source_path"] = im.source_path
                entry["display_name"] = im.display_name
            else:
                entry["source_name"] = key
            manifest_images.append(entry)
            for roi in rois_by_image[im.id]:
                rel = f"masks/{key}/{roi.uid}.png"
                (tmp / "masks" / key).mkdir(parents=True, exist_ok=True)
                png = encode_mask_8bit(roi.mask)
                (tmp / rel).write_bytes(png)
                manifest_rois.append({
                    "uid": roi.uid, "image": key, "label": roi.label, "annotator": roi.annotator,
                    "version": roi.version, "created_at": roi.created_at, "updated_at": roi.updated_at,
                    "mask": rel, "mask_sha256": mask_digest(png), "area": roi.area,
                    "geometry": scrub_geometry(roi.geometry) if include_geometry else None,
                })
                step += 1
                if progress is not None:
                    progress(ProgressEvent("export", step, total))
        manifest_volumes: list[dict] = []
        if volumes:
            groups: dict[tuple[str, str], list[ImageRecord]] = defaultdict(list)
            for im in images:
                if im.axis is not None and rois_by_image[im.id]:
                    groups[(im.sha256, im.axis)].append(im)
            for (sha, axis), planes in sorted(groups.items()):
                vol_key = f"{sha[:16]}-{axis}"
                try:
                    written, note = _volume_masks(store, planes, rois_by_image, tmp, vol_key)
                except EquiGuardError as exc:
                    written, note = [], f"volume {vol_key}: 3-D masks skipped ({exc})"
                manifest_volumes.extend(written)
                if note:
                    notes.append(note)
        doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "created_at": utc_now(),
               "deidentified": not include_source_paths, "images": manifest_images, "rois": manifest_rois,
               "volumes": manifest_volumes, "warnings": notes}
        # Plain write: the whole bundle folder is renamed into place below.
        (tmp / MANIFEST_NAME).write_text(json.dumps(doc, indent=1), encoding="utf-8")
        if folder.exists():
            folder.rmdir()  # empty, checked above; os.replace needs the name free or an empty dir
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress is not None:
        progress(ProgressEvent("export", total, total))
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return ExportResult(folder, folder / MANIFEST_NAME, len(manifest_images), len(manifest_rois),
                        len(manifest_volumes), notes)
