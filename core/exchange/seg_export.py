"""Export readers' ROIs for radiology systems: DICOM SEG (+ TID 1500 SR) for DICOM sources, NIfTI masks for NIfTI.

One SEG per reader and source series (a multi-frame source gets its own):
binary, one segment per ROI label with its coded category and type
(:mod:`core.exchange.codes`), algorithm type MANUAL, the reader as Content
Creator, every frame referencing its source instance (and frame).  With
``structured_reports`` each SEG gets a TID 1500 measurement report of the
same reader (:mod:`core.exchange.sr_export`).  NIfTI volumes get one mask per
reader and label in the source's affine; other sources (PNG, ...) are listed
in the notes (the bundle export covers them).

De-identified by default (:mod:`core.exchange.deid`); ``deidentified=False``
keeps the true identifiers and UIDs (needed to re-import into a workspace
that holds the original files).  The folder is assembled next to the target
and renamed into place, so a crash leaves no half-written export.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from core.errors import ConfigError
from core.exchange.codes import segment_codes
from core.exchange.deid import Pseudonymizer
from core.exchange.frames import DicomSource, open_source, planes_to_frames
from core.progress import ProgressCallback, ProgressEvent

__all__ = ["DicomExport", "export_dicom", "build_segmentation", "person_name", "reader_from_person_name",
           "EXPORT_FORMAT"]

EXPORT_FORMAT = "equiguard-dicom-export"
MANUFACTURER = dict(manufacturer="EquiGuard", manufacturer_model_name="EquiGuard Studio",
                    software_versions="0.1.0", device_serial_number="0")


@dataclass
class DicomExport:
    """What was written: SEG, SR and NIfTI files (relative to ``folder``) and notes on what was skipped."""

    folder: Path
    seg_files: list[str] = field(default_factory=list)
    sr_files: list[str] = field(default_factory=list)
    nifti_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    n_rois: int = 0
    seconds: float = 0.0


def person_name(reader: str) -> str:
    """A reader name as a DICOM person name: the whole name is the family-name component.

    PN delimiters (``\\ ^ =``) become spaces and the name is cut to 63
    characters; the trailing ``^`` marks a single-component name (DICOM PS3.5
    6.2.1.2).  :func:`reader_from_person_name` undoes it.
    """
    return (re.sub(r"[\\^=]", " ", reader).strip()[:63] or "unknown") + "^"


def reader_from_person_name(value) -> str:
    """The reader name in a person name written by :func:`person_name` (other names are kept as they are)."""
    return str(value or "").strip().rstrip("^").strip()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text.strip()).strip("._")[:40] or "reader"


def _pixel_array(frames: dict, labels: list[str], layout: dict, n_frames: int, shape: tuple[int, int]) -> np.ndarray:
    """The segments as highdicom takes them: a (F, R, C) uint8 label map (segment j + 1 where a pixel belongs to
    label j) when no two labels overlap, otherwise a (F, R, C, S) bool stack.

    Both give the same BINARY SEG; the label map spares highdicom a pass over
    an array 8 times larger (seconds for a 150-slice 512 x 512 volume).
    """
    label_map = np.zeros((n_frames, *shape), np.uint8 if len(labels) < 256 else np.uint16)
    for j, label in enumerate(labels, start=1):
        for uid, per_frame in frames[label].items():
            for f, mask in per_frame.items():
                plane = label_map[layout[(uid, f)]]
                if plane[mask].any():  # labels overlap here: only a per-segment stack can say so
                    return _segment_stack(frames, labels, layout, n_frames, shape)
                plane[mask] = j
    return label_map


def _segment_stack(frames: dict, labels: list[str], layout: dict, n_frames: int,
                   shape: tuple[int, int]) -> np.ndarray:
    stack = np.zeros((n_frames, *shape, len(labels)), bool)
    for j, label in enumerate(labels):
        for uid, per_frame in frames[label].items():
            for f, mask in per_frame.items():
                stack[layout[(uid, f)], :, :, j] = mask
    return stack


def build_segmentation(sources: list[DicomSource], frames: dict[str, dict[str, dict[int, np.ndarray]]],
                       reader: str, series_number: int, headers: list | None = None):
    """A highdicom binary :class:`~highdicom.seg.Segmentation` of one reader.

    ``frames[label][source SOP UID][file frame] = (rows, cols) bool``;
    ``headers`` replace the sources' own headers (the de-identified copies).
    """
    import highdicom as hd

    headers = headers or [s.header for s in sources]
    labels = sorted(frames)
    if sources[0].n_frames > 1:
        n_frames = sources[0].n_frames
        layout = {(sources[0].sop_instance_uid, f): f for f in range(n_frames)}
    else:
        n_frames = len(sources)
        layout = {(s.sop_instance_uid, 0): k for k, s in enumerate(sources)}
    pixels = _pixel_array(frames, labels, layout, n_frames, sources[0].frame_shape)
    descriptions = []
    for j, label in enumerate(labels, start=1):
        category, kind = segment_codes(label)
        item = hd.seg.SegmentDescription(segment_number=j, segment_label=label[:64],
                                         segmented_property_category=category, segmented_property_type=kind,
                                         algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
        item.SegmentDescription = label  # the full label (SegmentLabel holds at most 64 characters)
        descriptions.append(item)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # highdicom's notes on optional attributes of the sources
        return hd.seg.Segmentation(
            source_images=headers, pixel_array=pixels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=series_number,
            sop_instance_uid=hd.UID(), instance_number=1, content_creator_name=person_name(reader),
            content_description="EquiGuard reader ROIs", content_label="EQUIGUARD_ROI", **MANUFACTURER)


def _segmentable(source: DicomSource) -> str | None:
    """Why highdicom cannot build a SEG on this source, or None if it can."""
    header = source.header
    if source.n_frames > 1 and "FrameOfReferenceUID" not in header:
        return "a multi-frame file without a frame of reference (e.g. an ultrasound clip)"
    if source.n_frames > 1 and "SharedFunctionalGroupsSequence" not in header:
        return "a legacy multi-frame file without functional groups"
    return None


def export_dicom(store, folder: str | os.PathLike, *, image_ids: Iterable[int] | None = None,
                 deidentified: bool = True, structured_reports: bool = True,
                 progress: ProgressCallback | None = None) -> DicomExport:
    """Write every reader's live ROIs of ``image_ids`` (default all) as DICOM SEG/SR and NIfTI masks."""
    from core.exchange.nifti_export import export_nifti_masks
    from core.exchange.sr_export import measurement_report
    from core.store import decode_mask, sha256_file

    t0 = time.perf_counter()
    folder = Path(folder).expanduser().resolve()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(f"export folder {folder} already exists and is not empty; choose a new folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    records = store.get_images(image_ids)
    if image_ids is not None and len(records) != len(set(int(i) for i in image_ids)):
        raise ConfigError("some image ids do not exist in this workspace")
    masks: dict[int, dict[str, dict[str, np.ndarray]]] = defaultdict(lambda: defaultdict(dict))
    for row in store.live_roi_masks(None if image_ids is None else list(records)):
        slot = masks[row.image_id][row.reader]
        mask = decode_mask(row.mask_png)
        slot[row.label] = slot[row.label] | mask if row.label in slot else mask
    result = DicomExport(folder, n_rois=sum(len(labels) for r in masks.values() for labels in r.values()))
    by_file: dict[str, list] = defaultdict(list)
    for image_id in masks:
        by_file[records[image_id].sha256].append(records[image_id])
    pseudo = Pseudonymizer() if deidentified else None
    series: dict[str, list[DicomSource]] = defaultdict(list)
    nifti_groups = []
    for sha, recs in sorted(by_file.items()):
        path = Path(recs[0].source_path)
        if not path.is_file() or sha256_file(path) != sha:
            result.notes.append(f"{len(recs)} annotated plane(s): source file missing or changed, not exported")
            continue
        source = open_source(path, sha)
        if source is None:
            if recs[0].axis is not None:
                nifti_groups.append((path, recs))
            else:
                result.notes.append(f"{len(recs)} annotated plane(s) of a non-DICOM 2-D image: use the bundle export")
            continue
        reason = _segmentable(source)
        if reason:
            result.notes.append(f"{len(recs)} annotated plane(s) of {reason}: no SEG, use the bundle export")
            continue
        series[str(source.header.get("SeriesInstanceUID", sha))].append(source)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        plan = []  # (group of sources sharing a SEG, reader)
        for uid, sources in sorted(series.items()):
            singles = [s for s in sources if s.n_frames == 1]
            groups = ([singles] if singles else []) + [[s] for s in sources if s.n_frames > 1]
            for group in groups:
                readers = sorted({r for s in group for rec in by_file[s.sha256] for r in masks[rec.id]})
                plan.extend((group, reader) for reader in readers)
        for k, (group, reader) in enumerate(plan, start=1):
            frames: dict[str, dict[str, dict[int, np.ndarray]]] = defaultdict(dict)
            for source in group:
                per_label: dict[str, list] = defaultdict(list)
                for rec in by_file[source.sha256]:
                    for label, mask in masks[rec.id].get(reader, {}).items():
                        per_label[label].append((rec, mask))
                for label, planes in per_label.items():
                    frames[label][source.sop_instance_uid] = planes_to_frames(source, planes)
            headers = [pseudo.dataset(s.header) for s in group] if pseudo else [s.header for s in group]
            seg = build_segmentation(group, frames, reader, series_number=9000 + k, headers=headers)
            name = f"{k:04d}-{_slug(reader)}.dcm"
            (tmp / "seg").mkdir(exist_ok=True)
            seg.save_as(tmp / "seg" / name)
            result.seg_files.append(f"seg/{name}")
            if structured_reports:
                sr = measurement_report(seg, headers, reader, series_number=9500 + k)
                (tmp / "sr").mkdir(exist_ok=True)
                sr.save_as(tmp / "sr" / name)
                result.sr_files.append(f"sr/{name}")
            if progress is not None:
                progress(ProgressEvent("export", k, len(plan) + 1))
        for path, recs in nifti_groups:
            written, note = export_nifti_masks(path, recs, masks, tmp)
            result.nifti_files.extend(written)
            if note:
                result.notes.append(note)
        doc = {"format": EXPORT_FORMAT, "format_version": 1, "deidentified": deidentified,
               "seg": result.seg_files, "sr": result.sr_files, "nifti": result.nifti_files, "notes": result.notes}
        (tmp / "manifest.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
        if folder.exists():
            folder.rmdir()
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result.seconds = time.perf_counter() - t0
    return result
