"""Grad-CAM targets and explanation terms used when training on an episode."""

from __future__ import annotations

import torch

from core.errors import ConfigError
from core.explain import PrototypeDistanceTarget
from core.fewshot.distances import pairwise_distance
from core.fewshot.protonet import class_prototypes

__all__ = ["GUIDANCE", "CAM_SCORES", "EpisodePrototypeTarget"]

GUIDANCE = ("dice", "rrr", "none")
#: ``distance``: -distance to the own prototype (the paper).  ``log_prob``: the
#: episode log-probability of the true class, whose gradient does not vanish
#: when an embedding sits on its prototype.
CAM_SCORES = ("distance", "log_prob")


class EpisodePrototypeTarget:
    """Score of each row of a support+query batch: -distance to its class prototype.

    The prototypes are the means of the (detached) support rows of the same
    forward pass, so one forward serves the prototypical loss and the CAMs.

    Args:
        n_support: the first ``n_support`` output rows are the support set.
        labels: (B,) episode-local labels of all rows (support then query).
        way: number of classes.
        metric: distance name (see :mod:`core.fewshot.distances`).
        score: one of :data:`CAM_SCORES`.
    """

    def __init__(self, n_support: int, labels: torch.Tensor, way: int, metric: str,
                 score: str = "distance") -> None:
        if score not in CAM_SCORES:
            raise ConfigError(f"unknown CAM score {score!r}; choose one of {', '.join(CAM_SCORES)}")
        self.n_support, self.labels, self.way, self.metric, self.score = n_support, labels, way, metric, score

    def __call__(self, outputs: torch.Tensor) -> torch.Tensor:
        """(B, D) embeddings -> (B,) scores."""
        protos = class_prototypes(outputs[: self.n_support].detach(), self.labels[: self.n_support], self.way)
        if self.score == "distance":
            return PrototypeDistanceTarget(protos, self.labels, self.metric)(outputs)
        logp = torch.log_softmax(-pairwise_distance(outputs, protos, self.metric), dim=1)
        return logp.gather(1, self.labels[:, None]).squeeze(1)
