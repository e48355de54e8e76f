"""Small callable Grad-CAM targets: model output (B, ...) -> one score per image (B,)."""

from __future__ import annotations

from typing import Sequence, Union

import torch

from core.errors import ConfigError

__all__ = ["ClassLogitTarget", "ClassProbabilityTarget", "PrototypeDistanceTarget"]


class ClassLogitTarget:
    """The logit of a given class for each image.

    Args:
        classes: one class index for every image, or (B,) indices.
    """

    def __init__(self, classes: Union[int, Sequence[int], torch.Tensor]) -> None:
        if isinstance(classes, bool):
            raise ConfigError("class index must be an integer")
        self.classes = classes

    def __call__(self, outputs: torch.Tensor) -> torch.Tensor:
        """``outputs`` (B, n_classes) -> (B,) selected logits."""
        if outputs.dim() != 2:
            raise ConfigError(f"ClassLogitTarget needs (B, n_classes) outputs, got {tuple(outputs.shape)}")
        b, n = outputs.shape
        idx = torch.as_tensor(self.classes, dtype=torch.long, device=outputs.device)
        if idx.dim() == 0:
            idx = idx.expand(b)
        if idx.shape != (b,):
            raise ConfigError(f"got {idx.numel()} class indices for a batch of {b} images")
        if bool(((idx < 0) | (idx >= n)).any()):
            raise ConfigError(f"class index out of range for a model with {n} outputs")
        return outputs.gather(1, idx[:, None]).squeeze(1)


class ClassProbabilityTarget(ClassLogitTarget):
    """The softmax probability of a given class for each image (deletion/insertion curves).

    Args:
        classes: one class index for every image, or (B,) indices.
    """

    def __call__(self, outputs: torch.Tensor) -> torch.Tensor:
        """``outputs`` (B, n_classes) logits -> (B,) probabilities of the selected classes."""
        return super().__call__(torch.softmax(outputs, dim=-1))


class PrototypeDistanceTarget:
    """Negative distance from each embedding to the prototype of its (true) class.

    The prototypes are detached: the explanation asks why an image sits close
    to its class prototype, not how the prototype moves (as in the paper).

    Args:
        prototypes: (n_classes, D) class prototypes.
        labels: (B,) class index of each image.
        metric: ``"euclidean"`` (the paper's code), ``"squared_euclidean"`` or ``"cosine"``.
    """

    def __init__(self, prototypes: torch.Tensor, labels: torch.Tensor, metric: str = "euclidean") -> None:
        from core.fewshot.distances import DISTANCES

        if metric not in DISTANCES:
            raise ConfigError(f"unknown distance {metric!r}; choose one of {sorted(DISTANCES)}")
        if prototypes.dim() != 2:
            raise ConfigError("prototypes must be (n_classes, D)")
        self.prototypes = prototypes.detach()
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        self.metric = metric

    def __call__(self, outputs: torch.Tensor) -> torch.Tensor:
        """``outputs`` (B, D) embeddings -> (B,) negative distance to the own-class prototype."""
        from core.fewshot.distances import pairwise_distance

        if outputs.dim() != 2 or outputs.shape[1] != self.prototypes.shape[1]:
            raise ConfigError("PrototypeDistanceTarget needs (B, D) embeddings matching the prototypes")
        labels = self.labels.to(outputs.device)
        if labels.shape != (outputs.shape[0],):
            raise ConfigError(f"got {labels.numel()} labels for {outputs.shape[0]} embeddings")
        own = self.prototypes.to(outputs.device)[labels]
        return -pairwise_distance(outputs, own, self.metric, paired=True)
