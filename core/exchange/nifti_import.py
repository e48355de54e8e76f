"""Import a NIfTI label map (BraTS-style: 0 background, one integer per label) as ROIs on a workspace volume.

The label map is matched to the workspace's NIfTI images by voxel grid: the
same spatial shape and the same affine (within 1e-3 mm).  No match, or
several matches without ``target`` (BraTS's four modalities share one
grid), is refused; so is a value that ``labels`` does not name.  Each label
value becomes one ROI per display slice it covers, along ``axis``, placed
exactly as the loader displays the volume.  Everything is checked before one
all-or-nothing write.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from core.errors import ConfigError, LoadError
from core.exchange.seg_import import ExchangeImport, workspace_files

__all__ = ["import_label_map", "parse_label_names"]

_AFFINE_TOLERANCE = 1e-3


def parse_label_names(text: str) -> dict[int, str]:
    """``"1=necrotic,2=edema,4=enhancing"`` -> ``{1: "necrotic", 2: "edema", 4: "enhancing"}``."""
    out: dict[int, str] = {}
    for part in (p for p in str(text).split(",") if p.strip()):
        value, sep, name = part.partition("=")
        try:
            key = int(value.strip())
        except ValueError:
            key = -1
        if not sep or key <= 0 or not name.strip():
            raise ConfigError(f"label names must look like 1=necrotic,2=edema (positive integers), got {part!r}")
        out[key] = name.strip()
    if not out:
        raise ConfigError("give at least one label name, e.g. --labels 1=lesion")
    return out


def _read(path: Path):
    import nibabel as nib

    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as exc:  # noqa: BLE001 - nibabel raises many types for damaged files
        raise LoadError(f"{path.name} is not a readable NIfTI label map ({type(exc).__name__})") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise LoadError(f"{path.name} has shape {data.shape}; a label map is one 3-D volume")
    if not np.issubdtype(data.dtype, np.integer):
        if not np.all(np.isfinite(data)) or not np.array_equal(data, np.round(data)):
            raise LoadError(f"{path.name} holds non-integer values; a label map holds whole numbers")
        data = data.astype(np.int64)
    return data, np.asarray(img.affine, dtype=np.float64)


def _grid(path: Path):
    """(spatial shape, affine) of a workspace file that nibabel reads, else None (header only)."""
    import nibabel as nib

    if not path.name.lower().endswith((".nii", ".nii.gz", ".hdr", ".img")):
        return None
    try:
        img = nib.load(str(path))
    except Exception:  # noqa: BLE001 - not a NIfTI file after all: not a candidate
        return None
    return tuple(int(v) for v in img.shape[:3]), np.asarray(img.affine, dtype=np.float64)


def import_label_map(store, path: str | os.PathLike, labels: Mapping[int, str], *, reader: str,
                     target: str | os.PathLike | None = None, axis: str = "axial",
                     candidates: Iterable[Path] | None = None) -> ExchangeImport:
    """Add the label map's labels as ROIs (``reader``'s) on the one workspace volume with its grid."""
    from core.io import AXES, load_image
    from core.io.orientation import canonicalize, display_slice
    from core.store import PlaneRois, sha256_file, validate_reader_name
    from core.studio.planes import Plane, plane_fields

    path = Path(path)
    if not path.is_file():
        raise LoadError(f"no such file: {path}")
    if axis not in AXES:
        raise ConfigError(f"axis must be one of {', '.join(AXES)}, got {axis!r}")
    reader = validate_reader_name(reader)
    data, affine = _read(path)
    values = sorted(int(v) for v in np.unique(data) if v != 0)
    unknown = [v for v in values if v not in labels]
    if unknown:
        raise LoadError(f"{path.name} holds label value(s) {unknown} that have no name (named: "
                        f"{', '.join(map(str, sorted(labels))) or 'none'}); add them, e.g. --labels {unknown[0]}=NAME")
    files = list(candidates) if candidates is not None else workspace_files(store)
    matches = []
    for file in files:
        grid = _grid(Path(file))
        if grid is not None and grid[0] == data.shape and np.allclose(grid[1], affine, atol=_AFFINE_TOLERANCE):
            matches.append(Path(file).resolve())
    if target is not None:
        wanted = Path(target).resolve()
        if wanted not in matches:
            raise LoadError(f"{wanted.name} does not have the label map's shape and affine (or is not in the "
                            "workspace)")
        matches = [wanted]
    if not matches:
        raise LoadError(f"no NIfTI image in this workspace has the shape {data.shape} and affine of {path.name}; "
                        "nothing was imported")
    if len(matches) > 1:
        names = ", ".join(sorted(m.name for m in matches)[:5])
        raise LoadError(f"{path.name} fits {len(matches)} workspace images ({names}); choose one with --target")
    source = matches[0]
    image = load_image(source)
    canonical, _, _ = canonicalize(data, affine)
    if canonical.shape != image.spatial_shape:
        raise LoadError(f"{path.name} does not match {source.name} after reorientation")
    planes: dict[int, PlaneRois] = {}
    counts: dict[str, int] = defaultdict(int)
    sha = sha256_file(source)
    key = sha256_file(path)  # the label map's content: the same map imported again adds nothing
    for index in range(image.n_slices(axis)):
        slice_labels = display_slice(canonical, index, axis)
        for value in values:
            mask = slice_labels == value
            if not mask.any():
                continue
            if index not in planes:
                planes[index] = PlaneRois(plane_fields(source, image, Plane(index, axis), sha))
            uid = uuid.uuid5(uuid.NAMESPACE_OID, f"{key}/{sha}/{reader}/{value}/{axis}/{index}").hex
            planes[index].rois.append((labels[value], mask, reader, uid))
            counts[labels[value]] += 1
    summary = store.add_planes_and_rois(list(planes.values()))
    return ExchangeImport(reader, summary.rois_added, summary.rois_existing, summary.images_added, dict(counts))
