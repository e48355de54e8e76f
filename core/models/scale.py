"""Our scale-equivariant convolution (SESN-style steerable Hermite-Gaussian basis).

One set of learned coefficients is shared by every scale.  For each scale
sigma_s = sigma_0 * a**s the filter is  sum_b w_b * psi_b(x / sigma_s) / sigma_s**2,
with psi_b a separable Hermite polynomial times a Gaussian.  Because of the
1/sigma**2 factor, convolving an input shrunk by the factor a with the filter
at sigma_s equals shrinking the output of the filter at sigma_{s+1}: the
layer is equivariant to down-scaling by a, which *shifts the scale axis by
one* (up to discretisation and the truncation at the largest scale).

Scale feature maps have layout (B, C, S, H, W).  The basis (S, n_basis, k, k)
is computed once as a buffer.  All scales run as ONE conv2d: the lifting layer
stacks the S expanded filters along the output channels, the scale-to-scale
layer uses a grouped conv with one group per output scale.  ``export()``
freezes the expanded filters so inference costs exactly that single conv.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from numpy.polynomial import hermite as npherm
from torch import nn

__all__ = [
    "hermite_gaussian_basis", "scale_sigmas", "ScaleLift", "ScaleConv", "ScaleBatchNorm",
    "ScaleMaxPool", "FrozenScaleConv",
]


def scale_sigmas(sigma0: float, step: float, n_scales: int) -> tuple[float, ...]:
    """sigma_s = sigma0 * step**s for s = 0..n_scales-1."""
    return tuple(sigma0 * step ** s for s in range(n_scales))


def hermite_gaussian_basis(kernel_size: int, sigmas: tuple[float, ...], basis_size: int) -> torch.Tensor:
    """Steerable basis, (S, basis_size**2, k, k) float32.

    Function (n, m) at scale sigma is H_n(x/sigma) H_m(y/sigma) exp(-(x^2+y^2)/(2 sigma^2)) / sigma^2
    (physicists' Hermite polynomials, n, m < basis_size).  Every function is
    divided by its L2 norm at the smallest scale; one constant per function,
    so the ratio between scales -- which carries the equivariance -- is kept.
    """
    radius = kernel_size // 2
    grid = np.arange(-radius, radius + 1, dtype=np.float64)
    per_scale = []
    for sigma in sigmas:
        u = grid / sigma
        gauss = np.exp(-0.5 * u ** 2)
        one_d = [npherm.hermval(u, np.eye(basis_size)[n]) * gauss for n in range(basis_size)]
        funcs = [np.outer(one_d[n], one_d[m]) / sigma ** 2 for n in range(basis_size) for m in range(basis_size)]
        per_scale.append(np.stack(funcs))
    basis = np.stack(per_scale)  # (S, n_basis, k, k)
    norm = np.sqrt((basis[0] ** 2).sum(axis=(1, 2), keepdims=True))
    return torch.from_numpy(basis / norm).float()


class _ScaleConvBase(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, sigmas: tuple[float, ...], kernel_size: int,
                 basis_size: int, weight_shape: tuple[int, ...], bias: bool) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.n_scales = len(sigmas)
        self.sigmas = tuple(float(s) for s in sigmas)
        self.kernel_size = kernel_size
        self.register_buffer("basis", hermite_gaussian_basis(kernel_size, sigmas, basis_size))
        n_basis = basis_size ** 2
        self.weight = nn.Parameter(torch.empty(*weight_shape, n_basis))
        fan_in = math.prod(weight_shape[1:]) * n_basis
        # He-style init on the coefficients; the basis is unit-norm at the smallest scale.
        nn.init.normal_(self.weight, std=math.sqrt(2.0 / fan_in))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def expanded_weight(self) -> torch.Tensor:
        raise NotImplementedError

    def export(self) -> "FrozenScaleConv":
        """Plain module holding the expanded filters; same outputs, no basis expansion at run time."""
        with torch.no_grad():
            weight = self.expanded_weight().detach().clone()
        bias = None if self.bias is None else self.bias.detach().clone()
        return FrozenScaleConv(self.kind, weight, bias, self.n_scales, getattr(self, "scale_size", 1),
                               self.kernel_size)


def _lift(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, n_scales: int,
          padding: int) -> torch.Tensor:
    b, _, h, w = x.shape
    if bias is not None:
        bias = bias.repeat_interleave(n_scales)
    y = F.conv2d(x, weight, bias, padding=padding)
    return y.view(b, -1, n_scales, y.shape[-2], y.shape[-1])


def _scale_to_scale(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, n_scales: int,
                    scale_size: int, padding: int) -> torch.Tensor:
    b, c, s, h, w = x.shape
    if scale_size > 1:
        # Zero-pad the top of the scale axis: the largest scales see fewer neighbours
        # (the one place equivariance is lost, as in SESN).
        x = F.pad(x, (0, 0, 0, 0, 0, scale_size - 1))
        x = x.unfold(2, scale_size, 1)  # (B, C, S, H, W, ss)
        x = x.permute(0, 2, 1, 5, 3, 4)  # (B, S, C, ss, H, W)
    else:
        x = x.transpose(1, 2)  # (B, S, C, H, W)
    x = x.reshape(b, s * c * scale_size, h, w)
    if bias is not None:
        bias = bias.repeat(n_scales)
    y = F.conv2d(x, weight, bias, padding=padding, groups=n_scales)  # (B, S*C_out, H, W)
    return y.view(b, n_scales, -1, y.shape[-2], y.shape[-1]).transpose(1, 2)


class ScaleLift(_ScaleConvBase):
    """Lifting layer Z2 -> scales: (B, C_in, H, W) -> (B, C_out, S, H, W).

    Output[:, :, s] is the input convolved with the shared-coefficient filter at sigma_s.
    """

    kind = "lift"

    def __init__(self, in_channels: int, out_channels: int, sigmas: tuple[float, ...], kernel_size: int = 7,
                 basis_size: int = 3, bias: bool = False) -> None:
        super().__init__(in_channels, out_channels, sigmas, kernel_size, basis_size,
                         (out_channels, in_channels), bias)

    def expanded_weight(self) -> torch.Tensor:
        """(C_out * S, C_in, k, k), output channel index = c_out * S + s."""
        k = self.kernel_size
        return torch.einsum("oib,sbhw->osihw", self.weight, self.basis).reshape(-1, self.in_channels, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _lift(x, self.expanded_weight(), self.bias, self.n_scales, self.kernel_size // 2)


class ScaleConv(_ScaleConvBase):
    """Scale-to-scale layer: (B, C_in, S, H, W) -> (B, C_out, S, H, W).

    Output scale s mixes input scales s .. s + scale_size - 1 with filters at
    sigma_s (scale_size = 1: no interaction across scales).
    """

    kind = "scale"

    def __init__(self, in_channels: int, out_channels: int, sigmas: tuple[float, ...], kernel_size: int = 7,
                 basis_size: int = 3, scale_size: int = 1, bias: bool = False) -> None:
        super().__init__(in_channels, out_channels, sigmas, kernel_size, basis_size,
                         (out_channels, in_channels, scale_size), bias)
        self.scale_size = scale_size

    def expanded_weight(self) -> torch.Tensor:
        """(S * C_out, C_in * scale_size, k, k), one group of C_out filters per output scale."""
        k = self.kernel_size
        w = torch.einsum("oijb,sbhw->soijhw", self.weight, self.basis)
        return w.reshape(-1, self.in_channels * self.scale_size, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _scale_to_scale(x, self.expanded_weight(), self.bias, self.n_scales, self.scale_size,
                               self.kernel_size // 2)


class FrozenScaleConv(nn.Module):
    """Exported :class:`ScaleLift` / :class:`ScaleConv`: the expanded filters as a buffer, one conv2d."""

    def __init__(self, kind: str, weight: torch.Tensor, bias: torch.Tensor | None, n_scales: int,
                 scale_size: int, kernel_size: int) -> None:
        super().__init__()
        self.kind, self.n_scales, self.scale_size, self.padding = kind, n_scales, scale_size, kernel_size // 2
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "lift":
            return _lift(x, self.weight, self.bias, self.n_scales, self.padding)
        return _scale_to_scale(x, self.weight, self.bias, self.n_scales, self.scale_size, self.padding)


class ScaleBatchNorm(nn.BatchNorm3d):
    """Batch norm of (B, C, S, H, W) with one mean/variance per channel shared by all scales (equivariant)."""


class ScaleMaxPool(nn.Module):
    """Max over the scale axis: (B, C, S, H, W) -> (B, C, H, W), invariant to shifts of the scale axis."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.amax(x, dim=2)
