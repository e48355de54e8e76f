"""Medical images as classification datasets, split by patient.

The few-shot loaders (``core.fewshot.datasets``: brain/CXR phantoms, BraTS,
VinDr-CXR, the annotation store) become :class:`MedicalImageDataset` splits
with the :class:`ImageDataset` interface, so the supervised trainer, its
checkpoints (which record the split's fingerprint) and the ``attack`` /
``clever`` / ``transforms`` commands work on them unchanged.

A dataset is named by a **spec**: the base name, optionally followed by
non-default options, e.g. ``brain-phantom`` or
``brain-phantom:size=128,patients=24,spurious=1``.  The spec is the dataset
name a checkpoint records, so any command handed that name rebuilds exactly
the same images and split.  Options (names as in the ``fewshot`` command):

========================  =====================================================
``size``                  image side after resizing (default 64)
``patients``, ``slices``  phantoms: patients and images per patient (48, 4)
``spurious``              phantoms: 1 = corner marker tied to the class in the
                          training/validation patients, random in test patients
``test``, ``val``         patient fractions: test of all, val of the rest (0.3, 0.2)
``merge``, ``reader``     VinDr box merging (union|majority|single) and reader id
========================  =====================================================

Splits never cut a patient (:func:`core.fewshot.split_by_group`).  Phantom
train+val and test patients are generated separately (seeds ``10000 + s`` and
``20000 + s`` for split seed ``s``, as the few-shot protocol does); real data
is loaded once and split.  ``root`` is the BraTS/VinDr folder, or the
workspace folder for ``store`` (default: ``$EQUIGUARD_WORKSPACE`` or ``./data``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from core.datasets.base import SPLITS, ImageDataset
from core.errors import ConfigError

__all__ = ["MEDICAL_DATASETS", "PHANTOMS", "MedicalOptions", "MedicalImageDataset", "parse_spec", "make_spec",
           "load_medical", "load_medical_splits", "make_phantom"]

MEDICAL_DATASETS: tuple[str, ...] = ("brain-phantom", "cxr-phantom", "store", "brats", "vindr")
PHANTOMS: tuple[str, ...] = ("brain-phantom", "cxr-phantom")


@dataclass(frozen=True)
class MedicalOptions:
    """Options of a medical dataset spec (see the module docstring)."""

    size: int = 64
    patients: int = 48
    slices: int = 4
    spurious: bool = False
    test: float = 0.3
    val: float = 0.2
    merge: str = "union"
    reader: str | None = None

    def __post_init__(self) -> None:
        if self.size < 8 or self.patients < 6 or self.slices < 1:
            raise ConfigError("medical datasets need size >= 8, patients >= 6 and slices >= 1")
        if not (0 < self.test < 1 and 0 < self.val < 1):
            raise ConfigError("the test and val patient fractions must lie strictly between 0 and 1")
        if self.merge not in ("union", "majority", "single"):
            raise ConfigError(f"unknown VinDr box merge {self.merge!r}; choose union, majority or single")


_BOOL = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def parse_spec(spec: str) -> tuple[str, MedicalOptions]:
    """``"brain-phantom:size=128,spurious=1"`` -> (``"brain-phantom"``, options)."""
    base, _, rest = str(spec).partition(":")
    if base not in MEDICAL_DATASETS:
        raise ConfigError(f"unknown medical dataset {base!r}; choose one of {', '.join(MEDICAL_DATASETS)}")
    types = {f.name: f.type for f in fields(MedicalOptions)}
    values: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or key not in types:
            raise ConfigError(f"bad dataset option {item!r} in {spec!r}; options are {', '.join(types)} (key=value)")
        raw = raw.strip()
        try:
            if key == "spurious":
                values[key] = _BOOL[raw.lower()]
            elif key in ("size", "patients", "slices"):
                values[key] = int(raw)
            elif key in ("test", "val"):
                values[key] = float(raw)
            else:
                values[key] = raw or None
        except (KeyError, ValueError):
            raise ConfigError(f"dataset option {key} has an invalid value {raw!r} in {spec!r}") from None
    return base, MedicalOptions(**values)


def make_spec(base: str, options: MedicalOptions | None = None) -> str:
    """The canonical spec: the base name plus the options that differ from the defaults, in a fixed order."""
    if base not in MEDICAL_DATASETS:
        raise ConfigError(f"unknown medical dataset {base!r}; choose one of {', '.join(MEDICAL_DATASETS)}")
    options = options or MedicalOptions()
    default = MedicalOptions()
    parts = []
    for f in fields(MedicalOptions):
        value = getattr(options, f.name)
        if value != getattr(default, f.name):
            parts.append(f"{f.name}={int(value) if isinstance(value, bool) else value}")
    return base + (":" + ",".join(parts) if parts else "")


class MedicalImageDataset(ImageDataset):
    """An :class:`ImageDataset` that also keeps each image's expert ROI and patient.

    ``masks`` (N, H, W) bool (all False where no ROI is known), ``groups`` the N
    patient/study ids; ``name`` is the canonical spec, so the fingerprint
    covers the options too.
    """

    def __init__(self, name: str, split: str, images: torch.Tensor, labels: torch.Tensor, classes: Sequence[str],
                 masks: torch.Tensor, groups: Sequence[str], indices: np.ndarray, split_seed: int,
                 synthetic: bool) -> None:
        super().__init__(name, split, images, labels, classes, indices=indices, split_seed=split_seed)
        self.masks = masks.bool()
        self.groups = [str(g) for g in groups]
        self.synthetic = synthetic

    def patients(self) -> set[str]:
        return set(self.groups)

    def describe(self) -> dict:
        return {**super().describe(), "patients": len(self.patients()), "synthetic": self.synthetic}


def make_phantom(base: str, n_patients: int, slices: int, size: int, seed: int, cue: str, prefix: str):
    """The one call into the phantom generators (``cue``: ``none``, ``class`` or ``random``).

    Kept to one place because the generators' cue API is changing (the kind of
    cue becomes a generator parameter): the change is made here only.
    """
    from core.fewshot.datasets import brain_phantom, cxr_phantom

    generator = brain_phantom if base == "brain-phantom" else cxr_phantom
    return generator(n_patients, slices, size, seed=seed, cue=cue, patient_prefix=prefix)


def _real_data(base: str, options: MedicalOptions, root: str | Path | None):
    if base == "store":
        from core.fewshot.datasets import store_dataset
        from core.workspace import Workspace, default_workspace_root

        return store_dataset(Workspace(Path(root) if root else default_workspace_root()), size=options.size)
    if root is None:
        raise ConfigError(f"the {base} dataset needs its data folder (--data-root)")
    if base == "brats":
        from core.fewshot.datasets import load_brats

        return load_brats(root, size=options.size)
    from core.fewshot.datasets import load_vindr

    return load_vindr(root, size=options.size, merge=options.merge, reader=options.reader)


def _rows(source, part) -> np.ndarray:
    """Row indices of ``source`` that belong to the patients of ``part`` (order kept)."""
    keep = part.patients()
    return np.array([i for i, g in enumerate(source.groups) if g in keep], dtype=np.int64)


def _split(base: str, options: MedicalOptions, root: str | Path | None, split_seed: int):
    """[(FewShotData, source row indices)] for train, val and test."""
    from core.fewshot import split_by_group

    if base in PHANTOMS:
        n_test = max(3, int(round(options.patients * options.test)))
        n_pool = max(6, options.patients - n_test)
        pool = make_phantom(base, n_pool, options.slices, options.size, 10_000 + split_seed,
                            "class" if options.spurious else "none", "train")
        test = make_phantom(base, n_test, options.slices, options.size, 20_000 + split_seed,
                            "random" if options.spurious else "none", "test")
        train, val = split_by_group(pool, options.val, split_seed)
        return [(train, _rows(pool, train)), (val, _rows(pool, val)),
                (test, len(pool) + np.arange(len(test), dtype=np.int64))]
    if options.spurious:
        raise ConfigError("the spurious option only applies to the phantom datasets")
    data = _real_data(base, options, root)
    rest, test = split_by_group(data, options.test, split_seed)
    train, val = split_by_group(rest, options.val, split_seed)
    return [(part, _rows(data, part)) for part in (train, val, test)]


@functools.lru_cache(maxsize=4)
def _cached_phantom_split(base: str, options: MedicalOptions, split_seed: int):
    return _split(base, options, None, split_seed)


def load_medical_splits(spec: str, root: str | Path | None = None,
                        split_seed: int = 0) -> tuple[MedicalImageDataset, MedicalImageDataset, MedicalImageDataset]:
    """(train, val, test) of ``spec`` with disjoint patients; the source is read once.

    Images are (C, size, size) in [0, 1]: 3 channels for BraTS and the brain
    phantom, 1 for VinDr, the CXR phantom and the store.
    """
    base, options = parse_spec(spec)
    name = make_spec(base, options)
    # Phantoms are deterministic: reuse them; files and the store may change between calls.
    parts = _cached_phantom_split(base, options, split_seed) if base in PHANTOMS else _split(base, options, root,
                                                                                                split_seed)
    out = []
    for split, (data, rows) in zip(SPLITS, parts):
        out.append(MedicalImageDataset(name, split, data.images, data.labels, data.class_names, data.masks,
                                       data.groups, rows, split_seed, bool(data.meta.get("synthetic", False))))
    return tuple(out)  # type: ignore[return-value]


def load_medical(spec: str, split: str = "train", root: str | Path | None = None,
                 split_seed: int = 0) -> MedicalImageDataset:
    """One split (``train``, ``val`` or ``test``) of :func:`load_medical_splits`."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    return load_medical_splits(spec, root, split_seed)[SPLITS.index(split)]

