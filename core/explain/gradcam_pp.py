"""Grad-CAM++ (Chattopadhyay et al., WACV 2018) with the usual exponential-score closed form.

Assuming the score is the exponential of the raw output, the higher-order
derivatives reduce to powers of the first gradient, so the weights need no
extra backward pass.
"""

from __future__ import annotations

import torch

from core.explain.base import BaseCAM

__all__ = ["GradCAMPlusPlus"]

_ALPHA_EPS = 1e-6


class GradCAMPlusPlus(BaseCAM):
    """Grad-CAM++; see :class:`core.explain.base.BaseCAM` for the call contract."""

    name = "Grad-CAM++"

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        """(B, K) from (B, K, h, w) activations and gradients."""
        g2 = gradients.pow(2)
        act_sum = activations.sum(dim=(2, 3), keepdim=True)
        # A small constant keeps alpha finite where gradients vanish; alpha is
        # then zeroed there (those positions carry no weight anyway).
        alpha = g2 / (2 * g2 + act_sum * g2 * gradients + _ALPHA_EPS)
        alpha = torch.where(gradients != 0, alpha, torch.zeros_like(alpha))
        # Only positive gradients count, as in the method's definition.
        return (alpha * torch.relu(gradients)).sum(dim=(2, 3))
