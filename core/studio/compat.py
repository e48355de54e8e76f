"""Which images a model can classify: channels, size, classes and where the images come from.

A :class:`ModelSpec` says what a registry model was trained on, an
:class:`ImageSpec` what an image is; :func:`pairing_problem` returns the
one-line reason they do not fit (or None) and :func:`check_pair` raises it as
a :class:`ConfigError`.  The rules:

* channels must be equal (no silent grey -> RGB repetition);
* the side must equal the model's, unless the model was trained on data its
  loader resizes from any size (``store``, ``brats``, ``vindr``): then
  :func:`prepare_input` pads to square and resizes as that loader did;
* a labelled image's class must be one of the model's classes;
* synthetic or benchmark data (digits, CIFAR, phantoms) pairs only with its
  own kind; real medical sources (store, BraTS, VinDr, uploads) pair with each
  other when the rules above hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.errors import ConfigError

__all__ = ["ModelSpec", "ImageSpec", "RESIZING_DATASETS", "pairing_problem", "check_pair", "prepare_input"]

#: Training loaders that pad and resize source images of any size.
RESIZING_DATASETS: tuple[str, ...] = ("store", "brats", "vindr")
_REAL = RESIZING_DATASETS


def _base(dataset: str | None) -> str | None:
    return None if dataset is None else str(dataset).partition(":")[0]


@dataclass(frozen=True)
class ModelSpec:
    """What a model takes: ``channels`` x ``size`` x ``size`` images of ``dataset`` (a name or
    spec, None if unknown), classified into ``class_names``."""

    channels: int
    size: int
    class_names: tuple[str, ...]
    dataset: str | None = None

    @property
    def resizes(self) -> bool:
        return _base(self.dataset) in RESIZING_DATASETS

    def describe(self) -> str:
        """E.g. ``3-channel 64×64 brain-phantom images``."""
        source = f" {_base(self.dataset)}" if self.dataset else ""
        if self.resizes:
            return f"{self.channels}-channel{source} images (any size, resized to {self.size}×{self.size})"
        return f"{self.channels}-channel {self.size}×{self.size}{source} images"


@dataclass(frozen=True)
class ImageSpec:
    """An image: ``channels``, ``height`` x ``width``, its source ``dataset`` if known, a ``kind``
    for messages (e.g. ``CT slice``), and its class name if labelled."""

    channels: int
    height: int
    width: int
    dataset: str | None = None
    kind: str | None = None
    class_name: str | None = None

    @classmethod
    def of(cls, pixels: np.ndarray | torch.Tensor, **known) -> "ImageSpec":
        """From display pixels (H, W) or (H, W, 3), or a tensor (C, H, W) / (1, C, H, W)."""
        shape = tuple(pixels.shape)
        if isinstance(pixels, torch.Tensor):
            shape = shape[1:] if len(shape) == 4 else shape
            if len(shape) != 3:
                raise ConfigError(f"expected an image tensor (C, H, W), got shape {tuple(pixels.shape)}")
            return cls(shape[0], shape[1], shape[2], **known)
        if len(shape) == 2:
            return cls(1, shape[0], shape[1], **known)
        if len(shape) == 3 and shape[-1] in (3, 4):
            return cls(3, shape[0], shape[1], **known)
        raise ConfigError(f"expected an (H, W) or (H, W, 3) image, got shape {shape}")

    def describe(self) -> str:
        """E.g. ``a 1-channel 512×512 CT slice``."""
        kind = self.kind or (f"{_base(self.dataset)} image" if self.dataset else "image")
        return f"a {self.channels}-channel {self.height}×{self.width} {kind}"


def pairing_problem(model: ModelSpec, image: ImageSpec) -> str | None:
    """Why ``model`` cannot classify ``image`` (one line), or None when it can."""
    expects = f"this model expects {model.describe()}; the image is {image.describe()}"
    if image.channels != model.channels:
        return expects
    if not model.resizes and (image.height, image.width) != (model.size, model.size):
        return expects
    m, i = _base(model.dataset), _base(image.dataset)
    if m is not None and i is not None and m != i and not (m in _REAL and i in _REAL):
        return expects
    if image.class_name is not None and model.class_names and image.class_name not in model.class_names:
        return (f"this model classifies {', '.join(model.class_names)}; the image is labelled "
                f"{image.class_name!r}")
    return None


def check_pair(model: ModelSpec, image: ImageSpec) -> None:
    """Raise :class:`ConfigError` with :func:`pairing_problem`'s message if they do not fit."""
    problem = pairing_problem(model, image)
    if problem is not None:
        raise ConfigError(problem)


def prepare_input(pixels: np.ndarray, model: ModelSpec, image: ImageSpec | None = None,
                  roi: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Display pixels (H, W) / (H, W, 3) in [0, 1] -> ``(x, roi)`` as ``model`` takes them.

    ``x`` is (1, C, size, size); ``roi`` (H, W) bool becomes (size, size) bool
    (None stays None).  Checks the pair first; resizing models get their
    training loader's pad-to-square + resize, the others are used as they are.
    """
    from core.fewshot.datasets._resize import square_resize

    check_pair(model, image or ImageSpec.of(pixels))
    arr = np.asarray(pixels, dtype=np.float32)
    arr = arr[None] if arr.ndim == 2 else arr[..., :3].transpose(2, 0, 1)
    if not np.isfinite(arr).all():
        raise ConfigError("the image contains NaN or infinite pixels")
    arr = np.clip(arr, 0.0, 1.0)
    mask = np.zeros(arr.shape[-2:], bool) if roi is None else np.asarray(roi, bool)
    if mask.shape != arr.shape[-2:]:
        raise ConfigError(f"the ROI is {mask.shape[0]}×{mask.shape[1]} but the image {arr.shape[1]}×{arr.shape[2]}")
    if arr.shape[-2:] != (model.size, model.size):
        x, m = square_resize(arr, mask, model.size)
    else:
        x, m = torch.from_numpy(np.ascontiguousarray(arr)), torch.from_numpy(mask)
    return x.unsqueeze(0).contiguous(), (None if roi is None else m)
