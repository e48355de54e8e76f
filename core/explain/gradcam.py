"""Grad-CAM (Selvaraju et al., ICCV 2017): channel weight = spatial mean of the gradient."""

from __future__ import annotations

import torch

from core.explain.base import BaseCAM

__all__ = ["GradCAM"]


class GradCAM(BaseCAM):
    """Grad-CAM; see :class:`core.explain.base.BaseCAM` for the call contract."""

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        """(B, K): mean of the (B, K, h, w) gradients over the spatial positions."""
        return gradients.mean(dim=(2, 3))
