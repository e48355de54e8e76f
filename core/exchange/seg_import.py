"""Import a DICOM SEG as ROIs on the workspace images it references; everything checked before writing.

Each SEG frame names its source instance (and frame) in its Derivation Image
Sequence; the workspace's DICOM files are indexed by SOP Instance UID and
matched exactly.  Refused with one message, nothing stored:

* a SEG referencing instances the workspace does not have (no guessing by
  position or name);
* a frame whose size, position or orientation differs from its source frame,
  or that names a frame number the source does not have;
* a SEG without source references, or of a segmentation type other than
  BINARY / FRACTIONAL.

Each segment becomes one ROI per plane it covers (label = the segment's
description or label), owned by ``reader`` or the SEG's Content Creator.
ROIs get stable uids (SEG instance, segment, plane), so importing the same
SEG again adds nothing; all ROIs land in one transaction.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from pydicom.multival import MultiValue

from core.errors import ConfigError, LoadError
from core.exchange.frames import DicomSource, dicom_index, frame_positions, frames_to_planes, functional_group
from core.exchange.seg_export import reader_from_person_name

__all__ = ["ExchangeImport", "import_seg", "workspace_files"]

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
_POSITION_TOLERANCE_MM = 0.01


@dataclass
class ExchangeImport:
    """What an import did: ROIs added / already present, planes registered, and per-label counts."""

    reader: str
    rois_added: int = 0
    rois_existing: int = 0
    images_added: int = 0
    labels: dict[str, int] = field(default_factory=dict)


def workspace_files(store) -> list[Path]:
    """The files an import may match: those under the store's workspace ``images/`` and every plane's source."""
    from core.studio.planes import image_files
    from core.workspace import Workspace

    return image_files(Workspace(store.path.parent))


def _read_seg(path: Path):
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(path)
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types for non-DICOM bytes
            raise LoadError(f"{path.name} is not a readable DICOM file ({type(exc).__name__})") from None
    if str(ds.get("SOPClassUID", "")) != SEG_SOP_CLASS:
        raise LoadError(f"{path.name} is not a DICOM Segmentation (SOP class {ds.get('SOPClassUID', 'missing')})")
    kind = str(ds.get("SegmentationType", ""))
    if kind not in ("BINARY", "FRACTIONAL"):
        raise LoadError(f"{path.name}: segmentation type {kind or 'missing'} is not supported (BINARY, FRACTIONAL)")
    try:
        pixels = np.asarray(ds.pixel_array)
    except Exception as exc:  # noqa: BLE001
        raise LoadError(f"{path.name}: the segmentation pixel data cannot be decoded ({type(exc).__name__})") from None
    pixels = pixels.reshape(-1, int(ds.Rows), int(ds.Columns))
    masks = pixels >= (0.5 * float(ds.get("MaximumFractionalValue", 1)) if kind == "FRACTIONAL" else 1)
    return ds, masks


def _labels(ds) -> dict[int, str]:
    out = {}
    for item in ds.get("SegmentSequence") or []:
        label = str(item.get("SegmentDescription") or item.get("SegmentLabel") or "").strip()
        if not label and "SegmentedPropertyTypeCodeSequence" in item:
            label = str(item.SegmentedPropertyTypeCodeSequence[0].CodeMeaning)
        out[int(item.SegmentNumber)] = label or f"segment {int(item.SegmentNumber)}"
    return out


def _check_geometry(ds, index: int, source: DicomSource, frame: int, positions: dict) -> None:
    """One clear error when SEG frame ``index`` does not lie exactly on source ``frame`` (0-based)."""
    where = f"SEG frame {index + 1}"
    if (int(ds.Rows), int(ds.Columns)) != source.frame_shape:
        raise LoadError(f"{where} is {int(ds.Rows)}x{int(ds.Columns)} pixels but its source image is "
                        f"{source.frame_shape[0]}x{source.frame_shape[1]}: the SEG does not match its source geometry")
    if not 0 <= frame < source.n_frames:
        raise LoadError(f"{where} refers to frame {frame + 1} of a source image with {source.n_frames} frame(s)")
    seg_item = functional_group(ds, index, "PlanePositionSequence")
    source_pos = positions.setdefault(source.sop_instance_uid, frame_positions(source.header))[frame]
    if seg_item is not None and source_pos is not None:
        offset = float(np.linalg.norm(np.asarray([float(v) for v in seg_item.ImagePositionPatient]) - source_pos))
        if offset > _POSITION_TOLERANCE_MM:
            raise LoadError(f"{where} lies {offset:.2f} mm from its source frame: the SEG does not match its "
                            "source geometry")
    seg_orient = functional_group(ds, index, "PlaneOrientationSequence")
    src_orient = functional_group(source.header, frame, "PlaneOrientationSequence") or source.header
    if seg_orient is not None and src_orient.get("ImageOrientationPatient") is not None:
        a = np.asarray([float(v) for v in seg_orient.ImageOrientationPatient])
        b = np.asarray([float(v) for v in src_orient.ImageOrientationPatient])
        if not np.allclose(a, b, atol=1e-4):
            raise LoadError(f"{where} has another orientation than its source frame: the SEG does not match its "
                            "source geometry")


def import_seg(store, path: str | os.PathLike, *, reader: str | None = None,
               candidates: Iterable[Path] | None = None) -> ExchangeImport:
    """Add the SEG's segments as ROIs on the matching workspace images (see the module docstring)."""
    from core.store import PlaneRois, validate_reader_name
    from core.studio.planes import plane_fields

    path = Path(path)
    if not path.is_file():
        raise LoadError(f"no such file: {path}")
    ds, masks = _read_seg(path)
    if reader is not None:
        reader = validate_reader_name(reader)
    labels = _labels(ds)
    index = dicom_index(candidates if candidates is not None else workspace_files(store))
    references, missing = [], set()
    for i in range(masks.shape[0]):
        segment_item = functional_group(ds, i, "SegmentIdentificationSequence")
        derivation = functional_group(ds, i, "DerivationImageSequence")
        if segment_item is None or derivation is None or "SourceImageSequence" not in derivation:
            raise LoadError(f"SEG frame {i + 1} does not name its source image; only SEGs that reference their "
                            "source instances can be imported")
        segment = int(segment_item.ReferencedSegmentNumber)
        if segment not in labels:
            raise LoadError(f"SEG frame {i + 1} belongs to segment {segment}, which the SEG does not describe")
        ref = derivation.SourceImageSequence[0]
        uid = str(ref.ReferencedSOPInstanceUID)
        if uid not in index:
            missing.add(uid)
            continue
        frames = ref.get("ReferencedFrameNumber")
        frames = [1] if frames is None else (list(frames) if isinstance(frames, MultiValue) else [frames])
        if len(frames) != 1:
            raise LoadError(f"SEG frame {i + 1} is derived from {len(frames)} source frames; it cannot be placed "
                            "on one image plane")
        references.append((i, segment, uid, int(frames[0]) - 1))
    if missing:
        raise LoadError(f"{path.name} references {len(missing)} source image(s) that are not in this workspace; "
                        "add that series to the workspace images first (nothing was imported)")
    positions: dict = {}
    per_source: dict[str, dict[int, dict[int, np.ndarray]]] = defaultdict(lambda: defaultdict(dict))
    for i, segment, uid, frame in references:
        _check_geometry(ds, i, index[uid], frame, positions)
        slot = per_source[uid][segment]
        slot[frame] = slot[frame] | masks[i] if frame in slot else masks[i].astype(bool)
    if reader is None:
        creator = reader_from_person_name(ds.get("ContentCreatorName"))
        if not creator:
            raise ConfigError(f"{path.name} names no content creator; give the reader who drew it (--reader NAME)")
        reader = validate_reader_name(creator)
    items, counts = [], defaultdict(int)
    seg_uid = str(ds.SOPInstanceUID)
    for uid, segments in per_source.items():
        source = index[uid]
        planes: dict = {}
        for segment, frames in sorted(segments.items()):
            for plane, mask in frames_to_planes(source, frames):
                if plane not in planes:
                    planes[plane] = PlaneRois(plane_fields(source.path, source.load(), plane, source.sha256))
                roi_uid = uuid.uuid5(uuid.NAMESPACE_OID, f"{seg_uid}/{uid}/{reader}/{segment}/{plane.axis}/{plane.index}").hex
                planes[plane].rois.append((labels[segment], mask, reader, roi_uid))
                counts[labels[segment]] += 1
        items.extend(planes.values())
    summary = store.add_planes_and_rois(items)
    return ExchangeImport(reader, summary.rois_added, summary.rois_existing, summary.images_added, dict(counts))

