"""How similar two batches of maps are, image by image: Spearman rank correlation and SSIM.

Used by the model-parameter randomisation check (Adebayo et al. 2018), which
compares the maps of a trained model with those of its randomised copies.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import ConfigError

__all__ = ["rank_correlation", "average_ranks", "ssim"]

# Wang et al. 2004 / scikit-image defaults: Gaussian window sigma 1.5 truncated at 3.5 sigma (11 taps).
_SSIM_SIGMA, _SSIM_RADIUS, _K1, _K2 = 1.5, 5, 0.01, 0.03


def _pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.dim() != 3 or a.shape != b.shape:
        raise ConfigError(f"map similarity needs two (B, H, W) batches of one shape, got {tuple(a.shape)} "
                          f"and {tuple(b.shape)}")


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Row-wise ranks 1..N of ``values`` (B, N), ties sharing their average rank (scipy's ``rankdata``)."""
    b, n = values.shape
    order = np.argsort(values, axis=1, kind="stable")
    ordered = np.take_along_axis(values, order, 1)
    starts = np.ones((b, n), dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group = np.cumsum(starts.ravel()) - 1  # tie groups numbered across all rows (every row opens one)
    position = np.tile(np.arange(1, n + 1, dtype=np.float64), b)
    mean_rank = np.bincount(group, weights=position) / np.bincount(group)
    ranks = np.empty((b, n))
    np.put_along_axis(ranks, order, mean_rank[group].reshape(b, n), 1)
    return ranks


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Spearman correlation of the pixels of ``a`` and ``b`` (both (B, H, W)) per image -> (B,).

    Ties get their average rank (as scipy's ``spearmanr``).  NaN where either
    map is constant: a constant map has no ranking to compare.
    """
    _pair(a, b)
    ra = average_ranks(a.detach().flatten(1).double().cpu().numpy())
    rb = average_ranks(b.detach().flatten(1).double().cpu().numpy())
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    norm = np.sqrt((ra * ra).sum(1) * (rb * rb).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (ra * rb).sum(1) / norm, np.nan)


def _gaussian_window(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    t = torch.arange(-_SSIM_RADIUS, _SSIM_RADIUS + 1, dtype=dtype, device=device)
    g = torch.exp(-0.5 * (t / _SSIM_SIGMA) ** 2)
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> np.ndarray:
    """Mean structural similarity of ``a`` and ``b`` (both (B, H, W), values in a range of width
    ``data_range``) per image -> (B,).

    Gaussian-weighted (sigma 1.5, 11x11), population covariances, K1 = 0.01,
    K2 = 0.03, averaged over the positions where the window lies inside the
    image: scikit-image's ``structural_similarity(gaussian_weights=True,
    use_sample_covariance=False)`` on the same maps (tested).
    """
    _pair(a, b)
    if min(a.shape[-2:]) < 2 * _SSIM_RADIUS + 1:
        raise ConfigError(f"SSIM needs maps of at least {2 * _SSIM_RADIUS + 1} pixels a side")
    x = torch.stack([a, b], 1).detach().double()  # (B, 2, H, W)
    g = _gaussian_window(x.dtype, x.device)

    def blur(t: torch.Tensor) -> torch.Tensor:  # separable, valid positions only
        c = t.shape[1]
        t = F.conv2d(t, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
        return F.conv2d(t, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)

    mu = blur(x)
    second = blur(torch.cat([x * x, x[:, :1] * x[:, 1:]], 1))
    mu_a, mu_b = mu[:, 0], mu[:, 1]
    var_a, var_b = second[:, 0] - mu_a ** 2, second[:, 1] - mu_b ** 2
    cov = second[:, 2] - mu_a * mu_b
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1).cpu().numpy()
