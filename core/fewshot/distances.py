"""Distances between embeddings and prototypes; logits are their negatives."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.errors import ConfigError

__all__ = ["DISTANCES", "pairwise_distance", "distance_to_sets"]

DISTANCES = ("squared_euclidean", "euclidean", "cosine")

# Keeps the square root differentiable when an embedding sits on its prototype.
_SQRT_EPS = 1e-12


def pairwise_distance(a: torch.Tensor, b: torch.Tensor, metric: str = "squared_euclidean",
                      paired: bool = False) -> torch.Tensor:
    """Distances between rows of ``a`` (N, D) and ``b`` (M, D).

    Returns (N, M), or (N,) row-by-row distances when ``paired`` (then M == N).
    ``cosine`` is ``1 - cos``.
    """
    if metric not in DISTANCES:
        raise ConfigError(f"unknown distance {metric!r}; choose one of {', '.join(DISTANCES)}")
    if paired:
        if metric == "cosine":
            return 1.0 - F.cosine_similarity(a, b, dim=1)
        sq = (a - b).pow(2).sum(1)
    else:
        if metric == "cosine":
            return 1.0 - F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
        sq = (a.unsqueeze(1) - b.unsqueeze(0)).pow(2).sum(-1)
    return sq if metric == "squared_euclidean" else torch.sqrt(sq + _SQRT_EPS)


def distance_to_sets(a: torch.Tensor, sets: torch.Tensor, metric: str = "squared_euclidean") -> torch.Tensor:
    """Distance of each row of ``a`` (B, D) to each row of its own set ``sets`` (B, n, D) -> (B, n)."""
    if metric not in DISTANCES:
        raise ConfigError(f"unknown distance {metric!r}; choose one of {', '.join(DISTANCES)}")
    if metric == "cosine":
        return 1.0 - F.cosine_similarity(a.unsqueeze(1), sets, dim=2)
    sq = (a.unsqueeze(1) - sets).pow(2).sum(-1)
    return sq if metric == "squared_euclidean" else torch.sqrt(sq + _SQRT_EPS)
