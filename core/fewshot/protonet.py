"""Prototypical networks (Snell et al., NeurIPS 2017).

Embedding = backbone -> global average pool -> Linear -> (optional) L2 norm;
prototypes are class means of the support embeddings; logits are negative
distances to the prototypes.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import ConfigError
from core.fewshot.backbones import Backbone
from core.fewshot.distances import DISTANCES, pairwise_distance

__all__ = ["ProtoNet", "class_prototypes"]


def class_prototypes(embeddings: torch.Tensor, labels: torch.Tensor, n_classes: int | None = None) -> torch.Tensor:
    """Class means: ``embeddings`` (N, D), ``labels`` (N,) in 0..n-1 -> (n, D)."""
    n = int(labels.max()) + 1 if n_classes is None else n_classes
    one_hot = F.one_hot(labels.long(), n).to(embeddings.dtype)  # (N, n)
    counts = one_hot.sum(0)
    if bool((counts == 0).any()):
        raise ConfigError("every class needs at least one support image to form a prototype")
    return (one_hot.T @ embeddings) / counts[:, None]


class ProtoNet(nn.Module):
    """Backbone + embedding head; ``forward`` maps (B, C, H, W) images to (B, D) embeddings.

    Args:
        backbone: a :class:`core.fewshot.backbones.Backbone`.
        embed_dim: size D of the embedding.
        metric: ``squared_euclidean`` (default, Snell et al.), ``euclidean`` (the
            paper's code) or ``cosine``.
        normalize: L2-normalise embeddings (the paper's head does).
    """

    def __init__(self, backbone: Backbone, embed_dim: int = 64, metric: str = "squared_euclidean",
                 normalize: bool = False) -> None:
        super().__init__()
        if metric not in DISTANCES:
            raise ConfigError(f"unknown distance {metric!r}; choose one of {', '.join(DISTANCES)}")
        self.backbone = backbone
        self.head = nn.Linear(backbone.out_features, embed_dim)
        self.metric = metric
        self.normalize = normalize

    @property
    def cam_layer(self) -> nn.Module:
        """The layer Grad-CAM explains."""
        return self.backbone.cam_layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.head(self.backbone(x).mean(dim=(2, 3)))
        return F.normalize(z, dim=1) if self.normalize else z

    def logits(self, query: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
        """(Q, D) query embeddings, (n, D) prototypes -> (Q, n) logits = -distance."""
        return -pairwise_distance(query, prototypes, self.metric)

    def export(self) -> "ProtoNet":
        """An eval-mode copy whose backbone is plain PyTorch (its ``export()`` if it has one).

        Same embeddings (to float rounding); for inference and input gradients
        (attacks, Grad-CAM), not for training.
        """
        from core.models import Exportable

        clone = copy.deepcopy(self).eval()
        if isinstance(clone.backbone, Exportable):
            clone.backbone = clone.backbone.export()
        return clone.eval()

    @torch.no_grad()
    def classify(self, support: torch.Tensor, support_labels: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """Predicted support-label index (Q,) for query images given support images."""
        protos = class_prototypes(self(support), support_labels)
        return self.logits(self(query), protos).argmax(1)
