"""The studio's annotation store as a few-shot data source.

Every image with a class label (``AnnotationStore.set_image_label``; with
several readers, the resolved label) becomes one item.  Its ROI comes from
the readers' live ROIs (any label) by the chosen ``roi_source``
(:mod:`core.agreement.sources`: union, majority, staple, consensus or
reader:NAME).  Pixels are rendered with :func:`core.io.load_image` (default
window, MONOCHROME1 inverted) as one grey channel.  The patient group is the
source file's sha256: every slice or frame of one file is one study.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from core.errors import LoadError
from core.fewshot.data import FewShotData
from core.fewshot.datasets._resize import square_resize
from core.progress import ProgressCallback, ProgressEvent

__all__ = ["store_dataset"]


def store_dataset(workspace, size: int = 128, progress: ProgressCallback | None = None,
                  roi_source: str = "union") -> FewShotData:
    """Labelled images of ``workspace``'s annotation store, resized to (1, size, size)."""
    from core.agreement import RoiSource, source_mask
    from core.io import load_image
    from core.store import AnnotationStore, decode_mask

    source = RoiSource.parse(roi_source)
    store = AnnotationStore(workspace)
    labelled = sorted(store.list_image_labels(), key=lambda lab: lab.image_id)
    if not labelled:
        raise LoadError("the annotation store has no images with a class label; label images in the studio first")
    class_names = sorted({lab.label for lab in labelled})
    readers: dict[int, dict[str, np.ndarray]] = defaultdict(dict)
    for row in store.live_roi_masks([lab.image_id for lab in labelled]):
        mask, slot = decode_mask(row.mask_png), readers[row.image_id]
        slot[row.reader] = slot[row.reader] | mask if row.reader in slot else mask
    roles = store.reader_roles()
    records = store.get_images([lab.image_id for lab in labelled])
    cache: dict[str, object] = {}
    images, masks, labels, groups = [], [], [], []
    for n, lab in enumerate(labelled, start=1):
        rec = records[lab.image_id]
        if rec.source_path not in cache:
            cache.clear()  # slices of one file come together: keep one file decoded
            cache[rec.source_path] = load_image(rec.source_path)
        img = cache[rec.source_path]
        if rec.axis is not None:
            plane = img.render(rec.slice_index, axis=rec.axis)
        else:
            plane = img.render(rec.slice_index or 0)
        if plane.ndim == 3:
            plane = plane.mean(axis=2)
        if tuple(rec.shape) != plane.shape:
            raise LoadError(f"image {rec.id} ({rec.display_name or rec.source_path}): the stored shape {rec.shape} "
                            f"no longer matches the file's {plane.shape}")
        mask = source_mask(readers.get(rec.id, {}), source, tuple(rec.shape), roles)
        img_t, mask_t = square_resize(plane[None].astype(np.float32), mask, size)
        images.append(img_t)
        masks.append(mask_t)
        labels.append(class_names.index(lab.label))
        groups.append(rec.sha256)
        if progress is not None:
            progress(ProgressEvent("load", n, len(labelled)))
    return FewShotData(torch.stack(images), torch.tensor(labels), torch.stack(masks), groups, class_names,
                       {"dataset": "store", "synthetic": False, "roi_source": str(source),
                        "images_without_roi": int(sum(not bool(m.any()) for m in masks))})
