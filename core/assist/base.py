"""A trained model as an annotation assistant: class probabilities, a margin and a Grad-CAM per image.

:class:`Assistant` owns the housekeeping every model kind shares: eval mode
(restored afterwards), turning display pixels into the model's input, and
bringing the CAM back to the image's own (H, W).  A subclass says how to
score a batch (:meth:`_scores`) and which Grad-CAM target explains it
(:meth:`_cam_target`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Analysis", "Assistant", "plane_pixels", "cam_spread"]


@dataclass(frozen=True)
class Analysis:
    """One image through the model.

    ``probabilities`` (K,); ``margin`` ≥ 0, small = uncertain (a
    prototype-distance or logit margin between the two best classes);
    ``cam`` (H, W) in [0, 1] at the image's size, explaining ``predicted``.
    """

    probabilities: np.ndarray
    predicted: int
    margin: float
    cam: np.ndarray

    @property
    def entropy(self) -> float:
        """Normalised predictive entropy in [0, 1] (1 = uniform over the classes)."""
        p = np.clip(self.probabilities, 1e-12, 1.0)
        return float(-(p * np.log(p)).sum() / math.log(len(p))) if len(p) > 1 else 0.0


def cam_spread(cam: np.ndarray) -> float:
    """Normalised spatial entropy of a CAM (H, W) ≥ 0 as a distribution: 1 = spread evenly, 0 = one pixel."""
    c = np.clip(np.asarray(cam, np.float64), 0, None)
    total = c.sum()
    if total <= 0 or c.size < 2:
        return 1.0
    p = c[c > 0] / total
    return float(-(p * np.log(p)).sum() / math.log(c.size))


class Assistant(ABC):
    """A checkpoint that predicts and explains.  ``name`` and ``sha256`` identify it in proposals' provenance."""

    kind: str = "model"

    def __init__(self, model: nn.Module, *, name: str, sha256: str, class_names: Sequence[str], in_channels: int,
                 size: int, cam_layer: nn.Module) -> None:
        self.model, self.name, self.sha256 = model, name, sha256
        self.class_names, self.in_channels, self.size, self.cam_layer = list(class_names), in_channels, size, cam_layer

    @abstractmethod
    def _scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(probabilities (B, K), margin (B,)) of a batch ``x`` (B, C, S, S); no gradients needed."""

    @abstractmethod
    def _cam_target(self, predicted: torch.Tensor) -> Any:
        """The Grad-CAM target explaining class ``predicted`` (B,)."""

    def prepare(self, pixels: np.ndarray) -> torch.Tensor:
        """Display pixels (H, W) or (H, W, 3) in [0, 1] -> (1, C, S, S) model input."""
        from core.studio.attack_lab import to_model_input

        return to_model_input(pixels, self.in_channels, self.size)

    def analyse(self, images: Sequence[np.ndarray], batch: int = 16) -> list[Analysis]:
        """:class:`Analysis` of each display image (H, W) / (H, W, 3) in [0, 1]."""
        from core.explain import GradCAM

        was = self.model.training
        self.model.eval()
        out: list[Analysis] = []
        try:
            for start in range(0, len(images), batch):
                chunk = list(images[start:start + batch])
                x = torch.cat([self.prepare(p) for p in chunk])
                with torch.no_grad():
                    probs, margin = self._scores(x)
                predicted = probs.argmax(1)
                with GradCAM(self.model, self.cam_layer) as cam:
                    maps = cam(x, self._cam_target(predicted)).detach()  # (B, S, S)
                for k, pixels in enumerate(chunk):
                    h, w = np.asarray(pixels).shape[:2]
                    full = F.interpolate(maps[k][None, None], size=(h, w), mode="bilinear", align_corners=False)
                    out.append(Analysis(probs[k].numpy(), int(predicted[k]), float(margin[k]),
                                        full[0, 0].clamp(0, 1).numpy()))
        finally:
            self.model.train(was)
        return out


def plane_pixels(records: Iterable[Any]) -> Iterator[tuple[Any, np.ndarray]]:
    """(record, display pixels in [0, 1]) for store :class:`~core.store.ImageRecord` planes, decoding each file once.

    Records of one source file should come together (sort by ``source_path``).
    """
    from core.io import load_image
    from core.studio.planes import plane_of, render_plane

    cached: tuple[str, Any] | None = None
    for rec in records:
        if cached is None or cached[0] != rec.source_path:
            cached = (rec.source_path, load_image(Path(rec.source_path)))
        yield rec, render_plane(cached[1], plane_of(rec))
