"""Integrated Gradients (Sundararajan et al., ICML 2017), our own batched implementation.

``IG_i(x) = (x_i - x'_i) * integral_0^1 d score(x' + a (x - x')) / d x_i  da``
with the baseline ``x'`` a constant image.  The integral is a quadrature with
``steps`` nodes: Gauss-Legendre (captum's default) or the midpoint rule.  One
forward and one backward pass of the whole batch per node; the target callable
always sees exactly the B rows it was built for, so prototype targets with
per-row prototypes work unchanged.  The map sums the attribution over channels.

Completeness: the map's total equals ``score(x) - score(x')`` up to the
quadrature error (:attr:`IntegratedGradients.delta` after a call).
Tested against ``captum.attr.IntegratedGradients``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from core.errors import ConfigError
from core.explain.explainer import Explainer

__all__ = ["IntegratedGradients", "IG_METHODS", "quadrature"]

IG_METHODS = ("gausslegendre", "riemann_middle")


def quadrature(steps: int, method: str = "gausslegendre") -> tuple[list[float], list[float]]:
    """Nodes ``alphas`` in (0, 1) and weights summing to 1 for the path integral (captum's convention)."""
    if steps < 1:
        raise ConfigError("Integrated Gradients needs at least 1 step")
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (0.5 * (nodes + 1)).tolist(), (0.5 * weights).tolist()
    if method == "riemann_middle":
        return [(k + 0.5) / steps for k in range(steps)], [1.0 / steps] * steps
    raise ConfigError(f"unknown integration method {method!r}; choose one of {', '.join(IG_METHODS)}")


class IntegratedGradients(Explainer):
    """Integrated Gradients maps; see :class:`~core.explain.explainer.Explainer` for the call.

    Args:
        model: the network (differentiable in its input).
        steps: quadrature nodes (default 32).
        baseline: constant value of the baseline image (default 0.0, black).
        method: ``gausslegendre`` (default) or ``riemann_middle``.
        eval_mode: see :class:`~core.explain.explainer.Explainer`.

    After a call, ``attributions`` holds the per-channel attributions
    (B, C, H, W) and ``delta`` (B,) the completeness gap
    ``sum(attributions) - (score(x) - score(baseline))``.
    """

    name = "Integrated Gradients"
    signed = True

    def __init__(self, model: nn.Module, steps: int = 32, baseline: float = 0.0, method: str = "gausslegendre",
                 eval_mode: bool = True) -> None:
        super().__init__(model, eval_mode)
        self.alphas, self.weights = quadrature(int(steps), method)
        self.steps, self.baseline, self.method = int(steps), float(baseline), method
        self.attributions: torch.Tensor | None = None
        self.delta: torch.Tensor | None = None

    def explain(self, x: torch.Tensor, target) -> torch.Tensor:
        """(B, H, W) channel-summed attributions; ``target`` maps model output -> (B,)."""
        b = x.shape[0]
        x = x.detach()
        base = torch.full_like(x, self.baseline)
        diff = x - base
        path_grad = torch.zeros_like(x)
        with torch.enable_grad():
            for alpha, weight in zip(self.alphas, self.weights):
                point = (base + alpha * diff).requires_grad_(True)
                scores = self.scores(self.model(point), target, b)
                # Summing is exact per image as long as image i's score depends only on image i.
                (grad,) = torch.autograd.grad(scores.sum(), point)
                path_grad += weight * grad
        self.attributions = diff * path_grad
        with torch.no_grad():
            gap = self.scores(self.model(x), target, b) - self.scores(self.model(base), target, b)
        self.delta = self.attributions.flatten(1).sum(1) - gap
        return self.attributions.sum(1)
