"""Where a store plane sits in its DICOM file: planes <-> source frames, and the workspace's DICOM index.

The store annotates *planes*: a single-frame image (``slice_index`` None), a
frame of a multi-frame file (``slice_index`` = frame, ``axis`` None), or a
display slice of a multi-frame file that forms a volume (``axis`` set, see
:mod:`core.io.orientation`).  A DICOM SEG segments *source frames*.  The two
maps here are exact inverses: volume planes go through the canonical volume
and back to the file's voxel order exactly as the loader built it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from core.errors import LoadError

__all__ = ["DicomSource", "read_header", "open_source", "planes_to_frames", "frames_to_planes", "dicom_index",
           "frame_positions", "functional_group"]


@dataclass
class DicomSource:
    """A DICOM file of the workspace: its header (no pixels), identity and, when needed, the loaded image."""

    path: Path
    sha256: str
    header: Any = field(repr=False)
    image: Any = field(default=None, repr=False)   # core.io.MedicalImage, loaded on demand

    @property
    def sop_instance_uid(self) -> str:
        return str(self.header.SOPInstanceUID)

    @property
    def n_frames(self) -> int:
        return int(self.header.get("NumberOfFrames") or 1)

    @property
    def frame_shape(self) -> tuple[int, int]:
        return int(self.header.Rows), int(self.header.Columns)

    def load(self):
        if self.image is None:
            from core.io import load_image

            self.image = load_image(self.path)
        return self.image

    def order(self) -> np.ndarray:
        """File frame number (0-based) at each slice k of the loader's source-order volume."""
        from core.io.dicom import _frame_geometry  # the loader's own rule, so masks land where it put the pixels

        image = self.load()
        geometry = _frame_geometry(self.header, self.n_frames, tuple(image.spacing[:2]))
        if geometry is None:
            raise LoadError(f"{self.path.name}: its frames no longer form a volume")
        return np.asarray(geometry[1])


def read_header(path: Path):
    """The pydicom header of ``path`` without pixel data, or None when it is not a DICOM file."""
    import pydicom

    with open(path, "rb") as fh:
        head = fh.read(132)
    if len(head) < 132 or head[128:132] != b"DICM":
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - a damaged file is simply not a usable source
            return None


def open_source(path: str | Path, sha256: str | None = None) -> DicomSource | None:
    """A :class:`DicomSource` for ``path`` (None when it is not DICOM)."""
    from core.store import sha256_file

    path = Path(path)
    header = read_header(path)
    if header is None or "SOPInstanceUID" not in header:
        return None
    return DicomSource(path, sha256 or sha256_file(path), header)


def planes_to_frames(source: DicomSource, planes: Iterable[tuple[Any, np.ndarray]]) -> dict[int, np.ndarray]:
    """``{file frame (0-based): (rows, cols) bool}`` from ``(ImageRecord, plane mask)`` pairs of this file.

    Masks that land on the same frame are united.
    """
    frames: dict[int, np.ndarray] = {}
    volume_planes = []
    for rec, mask in planes:
        if rec.axis is None:
            f = int(rec.slice_index or 0)
            if tuple(mask.shape) != source.frame_shape:
                raise LoadError(f"{source.path.name}: an ROI has shape {mask.shape}, the frames are "
                                f"{source.frame_shape}")
            frames[f] = frames[f] | mask if f in frames else np.asarray(mask, bool)
        else:
            volume_planes.append((rec, mask))
    if volume_planes:
        image = source.load()
        canonical = np.zeros(image.spatial_shape, bool)
        for rec, mask in volume_planes:
            canonical |= image.slices_to_volume({int(rec.slice_index): mask}, rec.axis)
        native = image.mask_to_source(canonical)  # (col, row, k)
        for k, f in enumerate(source.order()):
            m = native[:, :, k].T
            if m.any():
                frames[int(f)] = frames[int(f)] | m if int(f) in frames else m
    return frames


def frames_to_planes(source: DicomSource, frames: dict[int, np.ndarray]) -> list[tuple[Any, np.ndarray]]:
    """``[(core.studio.planes.Plane, (H, W) bool)]``: the store planes that show these file frames."""
    from core.io.orientation import canonicalize, display_slice
    from core.studio.planes import Plane

    image = source.load()
    if not image.is_volume:
        return [(Plane(int(f), None), np.asarray(m, bool)) for f, m in sorted(frames.items())]
    order = source.order()
    position = {int(f): k for k, f in enumerate(order)}
    native = np.zeros((source.frame_shape[1], source.frame_shape[0], source.n_frames), bool)
    for f, m in frames.items():
        native[:, :, position[int(f)]] = np.asarray(m, bool).T
    canonical, _, ornt = canonicalize(native, image.source_affine)
    # The canonical axis the file's frame axis became: 0 -> sagittal, 1 -> coronal, 2 -> axial slices.
    axis = {0: "sagittal", 1: "coronal", 2: "axial"}[int(ornt[2][0])]
    out = []
    for index in range(canonical.shape[int(ornt[2][0])]):
        m = display_slice(canonical, index, axis)
        if m.any():
            out.append((Plane(index, axis), m))
    return out


def functional_group(ds, frame: int, sequence: str):
    """Item of functional group ``sequence`` for 0-based ``frame``: per-frame first, else shared; None if absent."""
    for keyword in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        groups = ds.get(keyword)
        if not groups:
            continue
        item = groups[frame] if keyword.startswith("PerFrame") and frame < len(groups) else groups[0]
        if sequence in item and len(item[sequence].value):
            return item[sequence].value[0]
    return None


def frame_positions(header) -> list[np.ndarray | None]:
    """ImagePositionPatient (mm) of every frame of a header, None where the file gives none."""
    n = int(header.get("NumberOfFrames") or 1)
    out: list[np.ndarray | None] = []
    for i in range(n):
        item = functional_group(header, i, "PlanePositionSequence")
        pos = item.get("ImagePositionPatient") if item is not None else (
            header.get("ImagePositionPatient") if n == 1 else None)
        out.append(None if pos is None else np.asarray([float(v) for v in pos]))
    return out


def dicom_index(paths: Iterable[Path]) -> dict[str, DicomSource]:
    """``{SOP Instance UID: DicomSource}`` of the DICOM files among ``paths`` (headers only)."""
    index: dict[str, DicomSource] = {}
    for path in paths:
        source = open_source(path)
        if source is not None:
            index.setdefault(source.sop_instance_uid, source)
    return index
