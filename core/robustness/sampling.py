"""Uniform samples in L_p balls (the perturbations CLEVER evaluates gradients at)."""

from __future__ import annotations

import torch
from torch import Tensor

from core.errors import ConfigError

__all__ = ["NORMS", "DUAL_NORM", "parse_norm", "sample_ball"]

NORMS = ("1", "2", "inf")
#: Hölder dual exponent q of each p (1/p + 1/q = 1): the norm CLEVER takes of ∇g.
DUAL_NORM = {"1": "inf", "2": "2", "inf": "1"}


def parse_norm(norm: str | int | float) -> str:
    """``1``, ``2``, ``"inf"``, ``"Linf"``, ``float("inf")`` -> ``"1"``, ``"2"`` or ``"inf"``."""
    text = str(norm).strip().lower().removeprefix("l")
    if text in ("1", "1.0"):
        return "1"
    if text in ("2", "2.0"):
        return "2"
    if text in ("inf", "infinity", "∞"):
        return "inf"
    raise ConfigError(f"norm must be 1, 2 or inf, got {norm!r}")


def sample_ball(n: int, dim: int, radius: float, norm: str, *,
                generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """``(n, dim)`` points drawn uniformly from the L_p ball of ``radius`` around 0.

    * L∞: independent uniforms in ``[-R, R]``.
    * L2: a Gaussian vector fixes a uniform direction; the radius ``R·U^(1/d)``
      makes the density uniform in volume.
    * L1: ``d + 1`` i.i.d. exponentials normalised by their sum are a flat
      Dirichlet; dropping the last coordinate gives a point uniform in the
      simplex ``{x ≥ 0, Σx ≤ 1}``, and random signs spread it over the 2^d
      orthants of the L1 ball.  (ART's ``random_sphere`` instead puts every L1
      point on the sphere ``Σ|x| = R``.)
    """
    norm = parse_norm(norm)
    if n < 1 or dim < 1:
        raise ConfigError(f"need n >= 1 and dim >= 1, got n={n}, dim={dim}")
    if not radius > 0:
        raise ConfigError(f"radius must be > 0, got {radius}")
    if norm == "inf":
        return radius * (2 * torch.rand(n, dim, generator=generator, dtype=dtype) - 1)
    if norm == "2":
        g = torch.randn(n, dim, generator=generator, dtype=torch.float64)
        u = torch.rand(n, 1, generator=generator, dtype=torch.float64)
        points = g / g.norm(dim=1, keepdim=True).clamp_min(1e-300) * u ** (1.0 / dim)
        return (radius * points).to(dtype)
    e = -torch.log1p(-torch.rand(n, dim + 1, generator=generator, dtype=torch.float64))
    simplex = e[:, :dim] / e.sum(dim=1, keepdim=True)
    signs = torch.randint(0, 2, (n, dim), generator=generator, dtype=torch.int64) * 2 - 1
    return (radius * simplex * signs).to(dtype)
