"""Canvas objects -> binary masks in image pixel coordinates."""

from __future__ import annotations

import warnings
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from core.errors import ConfigError
from core.roi.fabric import SKIPPED_TYPES, object_rings, object_type
from core.roi.raster import rasterize_rings
from core.roi.transform import CanvasTransform

__all__ = ["canvas_objects", "object_to_mask", "objects_to_masks", "shapes_to_mask"]


def canvas_objects(json_data: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None) -> list[dict]:
    """The object list of a canvas result: accepts ``json_data`` or its ``"objects"`` list."""
    if json_data is None:
        return []
    if isinstance(json_data, Mapping):
        objects = json_data.get("objects", [])
    else:
        objects = json_data
    if not isinstance(objects, (list, tuple)) or not all(isinstance(o, Mapping) for o in objects):
        raise ConfigError("canvas drawing must be a list of objects (json_data['objects'])")
    return [dict(o) for o in objects]


def _check_shape(image_shape: Sequence[int]) -> tuple[int, int]:
    if len(image_shape) < 2 or int(image_shape[0]) <= 0 or int(image_shape[1]) <= 0:
        raise ConfigError(f"image shape must be (H, W) with positive sizes, got {tuple(image_shape)}")
    return int(image_shape[0]), int(image_shape[1])


def object_to_mask(obj: Mapping[str, Any], image_shape: Sequence[int],
                   canvas_to_image: CanvasTransform | None = None) -> np.ndarray:
    """One Fabric object -> bool mask (H, W) in image pixels (pixel centres inside the shape)."""
    shape = _check_shape(image_shape)
    transform = canvas_to_image or CanvasTransform()
    outline = object_rings(obj, transform.image_from_canvas)
    return rasterize_rings(outline.rings, shape, outline.fill_rule)


def objects_to_masks(objects: Iterable[Mapping[str, Any]] | Mapping[str, Any], image_shape: Sequence[int],
                     canvas_to_image: CanvasTransform | None = None) -> list[tuple[int, np.ndarray]]:
    """Each region object -> ``(index in objects, bool mask (H, W))``.

    Text (and embedded images) are not regions: they are skipped with a
    ``UserWarning``; unknown types raise :class:`ConfigError`.
    """
    out = []
    for index, obj in enumerate(canvas_objects(objects)):
        if object_type(obj) in SKIPPED_TYPES:
            warnings.warn(f"canvas object {index} ({obj.get('type')}) is not a region; skipped", stacklevel=2)
            continue
        out.append((index, object_to_mask(obj, image_shape, canvas_to_image)))
    return out


def shapes_to_mask(objects: Iterable[Mapping[str, Any]] | Mapping[str, Any], image_shape: Sequence[int],
                   canvas_to_image: CanvasTransform | None = None) -> np.ndarray:
    """Union of all region objects -> bool mask (H, W) in image pixel coordinates."""
    shape = _check_shape(image_shape)
    mask = np.zeros(shape, dtype=bool)
    for _, m in objects_to_masks(objects, shape, canvas_to_image):
        mask |= m
    return mask
