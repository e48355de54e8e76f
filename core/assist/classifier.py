"""A symmetry classifier (``core.training`` checkpoint) as an assistant.

The margin is the gap between the two largest logits; the CAM explains the
predicted class's logit at the model's ``cam_layer``.  The model runs as its
plain-PyTorch ``export()`` (same outputs, much faster in eval mode).
"""

from __future__ import annotations

from pathlib import Path

import torch

from core.assist.base import Assistant

__all__ = ["ClassifierAssistant"]


class ClassifierAssistant(Assistant):
    kind = "classifier"

    def __init__(self, path: str | Path, name: str | None = None, class_names: list[str] | None = None) -> None:
        from core.store import sha256_file
        from core.training import load_checkpoint

        path = Path(path)
        ckpt = load_checkpoint(path)
        model = ckpt.model.export().eval()
        config = ckpt.config
        names = class_names or [str(k) for k in range(config.num_classes)]
        super().__init__(model, name=name or path.parent.name, sha256=sha256_file(path), class_names=names,
                         in_channels=config.in_channels, size=config.image_size, cam_layer=model.cam_layer)

    def _scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model(x)
        top = logits.topk(2, dim=1).values
        return torch.softmax(logits, dim=1), top[:, 0] - top[:, 1]

    def _cam_target(self, predicted: torch.Tensor):
        from core.explain import ClassLogitTarget

        return ClassLogitTarget(predicted)
