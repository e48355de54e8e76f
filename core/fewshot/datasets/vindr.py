"""VinDr-CXR: DICOM studies + ``train.csv`` boxes -> labelled images with box ROIs.

``train.csv`` columns: ``image_id, class_name, class_id, rad_id, x_min, y_min,
x_max, y_max`` (pixel coordinates of the DICOM).  "No finding" rows (class 14)
carry no box and only count towards the readers of a study.

Pixels come from :func:`core.io.load_image` and its ``render``: modality LUT
(rescale), the VOI window from the tags (or an automatic one) and MONOCHROME1
inversion, giving [0, 1] with air dark.  Each study (``image_id``) is one
patient group.  A study with boxes of several selected classes takes the class
with the most boxes (ties: the earlier class in ``classes``).

Box merging (``merge``):

* ``union`` - every box of the class from every reader (the paper's code);
* ``majority`` - pixels boxed by more than half of the study's readers;
* ``single`` - the boxes of one reader: ``reader`` if given, else the reader
  with the most boxes of the class (ties: the smallest id).

Studies whose merged ROI is empty (possible with ``majority``) are kept
without an ROI; training leaves them out of the explanation loss.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from core.errors import ConfigError, LoadError
from core.fewshot.data import FewShotData
from core.fewshot.datasets._resize import square_resize
from core.progress import ProgressCallback, ProgressEvent

__all__ = ["VINDR_CLASSES", "VINDR_COLUMNS", "MERGE_MODES", "load_vindr", "read_vindr_csv", "boxes_to_mask"]

VINDR_CLASSES = ("Nodule/Mass", "Pulmonary fibrosis", "Lung Opacity")
VINDR_COLUMNS = ("image_id", "class_name", "class_id", "rad_id", "x_min", "y_min", "x_max", "y_max")
MERGE_MODES = ("union", "majority", "single")
_EXTENSIONS = (".dicom", ".dcm", "")


def read_vindr_csv(path: str | Path) -> list[dict]:
    """Rows of a VinDr ``train.csv`` with coordinates as floats (None where empty)."""
    path = Path(path)
    if not path.is_file():
        raise LoadError(f"annotation file not found: {path}")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in VINDR_COLUMNS if c not in header]
        if missing:
            raise LoadError(f"{path.name} is missing the column(s) {', '.join(missing)}; "
                            f"expected {', '.join(VINDR_COLUMNS)}")
        rows = []
        for line, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            for key in ("x_min", "y_min", "x_max", "y_max"):
                value = row[key]
                if value == "" or value.lower() == "nan":
                    row[key] = None
                    continue
                try:
                    row[key] = float(value)
                except ValueError:
                    raise LoadError(f"{path.name} line {line}: {key} is not a number ({value!r})") from None
                if not math.isfinite(row[key]):
                    raise LoadError(f"{path.name} line {line}: {key} is not finite")
            if not row["image_id"]:
                raise LoadError(f"{path.name} line {line}: empty image_id")
            rows.append(row)
    return rows


def boxes_to_mask(boxes: Sequence[tuple[str, float, float, float, float]], shape: tuple[int, int], merge: str,
                  n_readers: int, reader: str | None = None) -> np.ndarray:
    """(H, W) bool ROI from ``(rad_id, x_min, y_min, x_max, y_max)`` boxes."""
    if merge not in MERGE_MODES:
        raise ConfigError(f"unknown box merge {merge!r}; choose one of {', '.join(MERGE_MODES)}")
    h, w = shape
    by_reader: dict[str, np.ndarray] = {}
    for rad, x0, y0, x1, y1 in boxes:
        if x1 < x0 or y1 < y0:
            raise LoadError(f"a box of reader {rad} has max < min ({x0}, {y0}, {x1}, {y1})")
        m = by_reader.setdefault(rad, np.zeros((h, w), bool))
        r0, r1 = max(0, int(math.floor(y0))), min(h, int(math.ceil(y1)) + 1)
        c0, c1 = max(0, int(math.floor(x0))), min(w, int(math.ceil(x1)) + 1)
        m[r0:r1, c0:c1] = True
    if not by_reader:
        return np.zeros((h, w), bool)
    if merge == "union":
        return np.logical_or.reduce(list(by_reader.values()))
    if merge == "majority":
        votes = np.sum(list(by_reader.values()), axis=0)
        return votes > max(n_readers, len(by_reader)) / 2
    if reader is None:
        counts = {}
        for rad, *_ in boxes:
            counts[rad] = counts.get(rad, 0) + 1
        reader = min(counts, key=lambda r: (-counts[r], r))
    return by_reader.get(reader, np.zeros((h, w), bool))


def _dicom_path(root: Path, image_id: str) -> Path:
    for folder in (root / "train", root / "images", root):
        for ext in _EXTENSIONS:
            p = folder / f"{image_id}{ext}"
            if p.is_file():
                return p
    raise LoadError(f"no DICOM for image_id {image_id} under {root} (looked for train/{image_id}.dicom, "
                    f"{image_id}.dcm, ...)")


def load_vindr(root: str | Path, size: int = 128, classes: Sequence[str] = VINDR_CLASSES, merge: str = "union",
               reader: str | None = None, csv_name: str = "train.csv", max_images: int | None = None,
               progress: ProgressCallback | None = None) -> FewShotData:
    """Load the studies of ``root`` that have a box of one of ``classes``."""
    from core.io import load_image

    root = Path(root)
    if merge not in MERGE_MODES:
        raise ConfigError(f"unknown box merge {merge!r}; choose one of {', '.join(MERGE_MODES)}")
    classes = list(classes)
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ConfigError("give at least two distinct VinDr class names")
    rows = read_vindr_csv(root / csv_name)
    readers: dict[str, set[str]] = {}
    boxes: dict[str, dict[str, list]] = {}
    for row in rows:
        readers.setdefault(row["image_id"], set()).add(row["rad_id"])
        if row["class_name"] not in classes:
            continue
        coords = (row["x_min"], row["y_min"], row["x_max"], row["y_max"])
        if any(c is None for c in coords):
            raise LoadError(f"{csv_name}: a {row['class_name']} finding of {row['image_id']} has no box")
        boxes.setdefault(row["image_id"], {}).setdefault(row["class_name"], []).append((row["rad_id"], *coords))
    known = {row["class_name"] for row in rows}
    absent = [c for c in classes if c not in known]
    if absent:
        raise ConfigError(f"{csv_name} has no rows of class(es) {', '.join(absent)}")
    ids = sorted(boxes)[: max_images or None]
    if not ids:
        raise LoadError(f"{csv_name} has no boxes of {', '.join(classes)}")
    images, masks, labels = [], [], []
    for n, image_id in enumerate(ids, start=1):
        per_class = boxes[image_id]
        cls = max(per_class, key=lambda c: (len(per_class[c]), -classes.index(c)))
        img = load_image(_dicom_path(root, image_id))
        pixels = img.render(0)
        if pixels.ndim != 2:
            raise LoadError(f"{image_id}: expected a grey-level radiograph")
        roi = boxes_to_mask(per_class[cls], pixels.shape, merge, len(readers[image_id]), reader)
        img_t, roi_t = square_resize(pixels[None].astype(np.float32), roi, size)
        images.append(img_t)
        masks.append(roi_t)
        labels.append(classes.index(cls))
        if progress is not None:
            progress(ProgressEvent("load", n, len(ids), message=image_id))
    return FewShotData(torch.stack(images), torch.tensor(labels), torch.stack(masks), list(ids), classes,
                       {"dataset": "vindr", "root": str(root), "merge": merge, "synthetic": False})
