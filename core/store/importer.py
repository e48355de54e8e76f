"""Import an export bundle into a store: validated first, then written; safe to repeat."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import LoadError
from core.progress import ProgressCallback, ProgressEvent
from core.store.errors import ManifestError
from core.store.manifest import MANIFEST_NAME, bundle_path, validate_manifest
from core.store.masks import decode_mask, mask_digest
from core.store.store import AnnotationStore

__all__ = ["ImportSummary", "import_bundle"]


@dataclass
class ImportSummary:
    images_added: int = 0
    images_existing: int = 0
    rois_added: int = 0
    rois_existing: int = 0
    labels_set: int = 0
    labels_kept: int = 0


def import_bundle(store: AnnotationStore, bundle: str | os.PathLike, *,
                  progress: ProgressCallback | None = None) -> ImportSummary:
    """Read ``bundle`` (its folder or its ``manifest.json``) into ``store``.

    Everything is checked before anything is written: the manifest's
    structure, that every mask file exists inside the bundle, matches its
    sha256 and has its image's shape.  Importing again adds nothing: images
    are matched by (sha256, index, axis), ROIs by uid.  A reader who already
    labelled an image keeps their label.  Imported ROIs start a new history at version 1.
    """
    path = Path(bundle).expanduser()
    manifest = path / MANIFEST_NAME if path.is_dir() else path
    if not manifest.is_file():
        raise ManifestError(f"no {MANIFEST_NAME} found at {path}")
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{manifest.name} is not valid JSON ({exc.__class__.__name__})") from None
    validate_manifest(doc)
    root = manifest.parent.resolve()
    images = {img["key"]: img for img in doc["images"]}
    masks = {}
    for roi in doc["rois"]:
        file = bundle_path(root, roi["mask"], f"mask of ROI {roi['uid']}")
        if not file.is_file():
            raise ManifestError(f"mask file {roi['mask']} listed in the manifest is missing")
        data = file.read_bytes()
        if mask_digest(data) != roi["mask_sha256"]:
            raise ManifestError(f"mask file {roi['mask']} does not match its sha256 (damaged or edited)")
        try:
            mask = decode_mask(data)
        except LoadError as exc:
            raise ManifestError(f"mask file {roi['mask']}: {exc}") from None
        shape = tuple(images[roi["image"]]["shape"])
        if mask.shape != shape:
            raise ManifestError(f"mask file {roi['mask']} has shape {mask.shape}, its image is {shape}")
        masks[roi["uid"]] = mask

    summary = ImportSummary()
    ids = {}
    for key, img in images.items():
        existing = store.find_image(img["sha256"], img["slice_index"], img["axis"])
        ids[key] = store.add_image(
            img["sha256"], img.get("source_path") or img.get("source_name") or key, shape=img["shape"],
            slice_index=img["slice_index"], axis=img["axis"], source_shape=img.get("source_shape"),
            display_name=img.get("display_name"), modality=img.get("modality"))
        if existing is None:
            summary.images_added += 1
        else:
            summary.images_existing += 1
        readers = img.get("reader_labels")
        if readers is None:  # bundles written before per-reader labels: the image's one label
            readers = [] if img.get("class_label") is None else [img["class_label"]]
        for label in readers:
            annotator = label.get("annotator") or "import"
            if store.get_image_label(ids[key], reader=annotator) is None:
                store.set_image_label(ids[key], label["label"], annotator)
                summary.labels_set += 1
            else:
                summary.labels_kept += 1
    total = len(doc["rois"])
    for step, roi in enumerate(doc["rois"], 1):
        if store.find_roi(roi["uid"]) is not None:
            summary.rois_existing += 1
        else:
            store.add_roi(ids[roi["image"]], roi["label"], masks[roi["uid"]], annotator=roi["annotator"],
                          geometry=roi.get("geometry"), uid=roi["uid"])
            summary.rois_added += 1
        if progress is not None:
            progress(ProgressEvent("import", step, total))
    return summary
