"""In-memory labelled images with ROI masks and patient ids, and patient-level splits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from core.errors import ConfigError, LoadError

__all__ = ["FewShotData", "split_by_group"]


@dataclass
class FewShotData:
    """Images, class labels, ROI masks and the patient (group) each image came from.

    Attributes:
        images: (N, C, H, W) float32 in [0, 1].
        labels: (N,) int64 class indices into ``class_names``.
        masks: (N, H, W) bool expert ROIs (all False where none is known).
        groups: N patient/study ids (str); splits never cut a group.
        class_names: names of the classes.
        meta: free-form provenance (dataset name, options) for reports.
    """

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor
    groups: list[str]
    class_names: list[str]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.images.shape[0]
        if self.images.dim() != 4:
            raise LoadError(f"images must be (N, C, H, W), got {tuple(self.images.shape)}")
        if self.labels.shape != (n,) or self.masks.shape != (n, *self.images.shape[-2:]) or len(self.groups) != n:
            raise LoadError("images, labels, masks and patient ids do not have matching lengths/sizes")
        if n and (int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.class_names)):
            raise LoadError("a class label is outside the list of class names")
        self.labels = self.labels.long()
        self.masks = self.masks.bool()
        self.groups = [str(g) for g in self.groups]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def in_channels(self) -> int:
        return int(self.images.shape[1])

    def subset(self, index) -> "FewShotData":
        """The images at ``index`` (sequence of ints or a bool mask)."""
        idx = torch.as_tensor(np.asarray(index))
        if idx.dtype == torch.bool:
            idx = idx.nonzero().flatten()
        idx = idx.long()
        return FewShotData(self.images[idx], self.labels[idx], self.masks[idx],
                           [self.groups[int(i)] for i in idx], list(self.class_names), dict(self.meta))

    def class_counts(self) -> dict[str, int]:
        counts = torch.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(c) for name, c in zip(self.class_names, counts)}

    def patients(self) -> set[str]:
        return set(self.groups)


def split_by_group(data: FewShotData, test_fraction: float = 0.4, seed: int = 0) -> tuple[FewShotData, FewShotData]:
    """Split into (train, test) with every patient entirely on one side.

    Patients are stratified by their majority class so both sides see every
    class; ``seed`` drives a private generator.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError("test fraction must lie strictly between 0 and 1")
    rng = np.random.default_rng(seed)
    labels = data.labels.numpy()
    by_class: dict[int, list[str]] = {}
    for patient in sorted(data.patients()):
        rows = [i for i, g in enumerate(data.groups) if g == patient]
        majority = int(np.bincount(labels[rows]).argmax())
        by_class.setdefault(majority, []).append(patient)
    test_patients: set[str] = set()
    for cls, patients in sorted(by_class.items()):
        if len(patients) < 2:
            raise ConfigError(f"class {data.class_names[cls]!r} has fewer than 2 patients; cannot split by patient")
        n_test = min(len(patients) - 1, max(1, int(round(test_fraction * len(patients)))))
        test_patients.update(rng.permutation(patients)[:n_test].tolist())
    is_test = np.array([g in test_patients for g in data.groups])
    return data.subset(~is_test), data.subset(is_test)
