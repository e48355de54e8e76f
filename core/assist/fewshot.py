"""A few-shot prototypical network (``core.fewshot`` checkpoint) as an assistant.

Classes are the checkpoint's stored prototypes; the margin is the gap
between the distances to the nearest and the second-nearest prototype; the
CAM explains the predicted class with the score the run was guided by
(``cam_score`` in the checkpoint, the paper's −distance for older runs).
"""

from __future__ import annotations

from pathlib import Path

import torch

from core.assist.base import Assistant

__all__ = ["ProtoNetAssistant"]


class ProtoNetAssistant(Assistant):
    kind = "fewshot"

    def __init__(self, path: str | Path, name: str | None = None) -> None:
        from core.fewshot import load_checkpoint
        from core.store import sha256_file

        path = Path(path)
        model, payload = load_checkpoint(path)
        self.prototypes = payload["prototypes"].float()
        self.metric = payload["model"].get("metric", "squared_euclidean")
        self.cam_score = payload.get("extra", {}).get("cam_score", "distance")
        channels, size = payload["support_images"].shape[1], payload["support_images"].shape[-1]
        super().__init__(model, name=name or path.parent.name, sha256=sha256_file(path),
                         class_names=payload["class_names"], in_channels=int(channels), size=int(size),
                         cam_layer=model.cam_layer)

    def _scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from core.fewshot import pairwise_distance

        d = pairwise_distance(self.model(x), self.prototypes, self.metric)  # (B, K)
        nearest = d.topk(min(2, d.shape[1]), dim=1, largest=False).values
        margin = nearest[:, 1] - nearest[:, 0] if d.shape[1] > 1 else torch.full((len(d),), float("inf"))
        return torch.softmax(-d, dim=1), margin

    def _cam_target(self, predicted: torch.Tensor):
        from core.fewshot import PrototypeScoreTarget

        return PrototypeScoreTarget(self.prototypes, predicted, self.metric, self.cam_score)
