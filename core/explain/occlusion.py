"""Occlusion sensitivity (Zeiler & Fergus, ECCV 2014): how much the score drops when a patch is hidden.

A ``patch`` x ``patch`` window slides over the image with ``stride``; at every
position all channels under the window are replaced by ``baseline`` and the
target score is recomputed.  A pixel's attribution is the mean, over the
windows that cover it, of ``score(x) - score(x with the window hidden)``;
pixels no window covers get 0.  This is captum's ``Occlusion`` with a window
spanning all channels (tested against it).

The maps are signed: a negative value means hiding the region raised the score.
No gradient is used, so nothing the training loss did to gradients can steer it.
"""

from __future__ import annotations

import torch
from torch import nn

from core.errors import ConfigError
from core.explain.explainer import Explainer

__all__ = ["Occlusion"]


class Occlusion(Explainer):
    """Occlusion sensitivity maps; see :class:`~core.explain.explainer.Explainer` for the call.

    Args:
        model: the network.
        patch: side of the square window in pixels.
        stride: step between window positions (default ``patch // 2``, at least 1).
        baseline: value the hidden pixels take (default 0.0: black, i.e. the
            background of min-max normalised slices).
        eval_mode: see :class:`~core.explain.explainer.Explainer`.

    Cost: one forward pass of the batch per window position,
    ``(floor((H - patch) / stride) + 1) * (floor((W - patch) / stride) + 1)`` in all.
    """

    name = "occlusion"
    signed = True

    def __init__(self, model: nn.Module, patch: int = 8, stride: int | None = None, baseline: float = 0.0,
                 eval_mode: bool = True) -> None:
        super().__init__(model, eval_mode)
        stride = max(1, patch // 2) if stride is None else stride
        if int(patch) < 1 or int(stride) < 1:
            raise ConfigError("occlusion patch and stride must be at least 1 pixel")
        self.patch, self.stride, self.baseline = int(patch), int(stride), float(baseline)

    def positions(self, height: int, width: int) -> list[tuple[int, int]]:
        """Top-left corners (row, col) of every window for an image of this size."""
        if self.patch > min(height, width):
            raise ConfigError(f"occlusion patch {self.patch} is larger than the {height}x{width} image")
        return [(r, c) for r in range(0, height - self.patch + 1, self.stride)
                for c in range(0, width - self.patch + 1, self.stride)]

    @torch.no_grad()
    def explain(self, x: torch.Tensor, target) -> torch.Tensor:
        """(B, H, W) mean score drop per pixel; ``target`` maps model output -> (B,)."""
        b, _, h, w = x.shape
        p = self.patch
        reference = self.scores(self.model(x), target, b)
        total = torch.zeros(b, h, w, dtype=reference.dtype, device=x.device)
        count = torch.zeros(h, w, dtype=reference.dtype, device=x.device)
        hidden = x.clone()
        for r, c in self.positions(h, w):
            hidden[:, :, r:r + p, c:c + p] = self.baseline
            drop = reference - self.scores(self.model(hidden), target, b)
            hidden[:, :, r:r + p, c:c + p] = x[:, :, r:r + p, c:c + p]
            total[:, r:r + p, c:c + p] += drop[:, None, None]
            count[r:r + p, c:c + p] += 1
        return total / count.clamp_min(1)
