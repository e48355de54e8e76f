"""Measured equivariance errors (relative L2), for tests, benchmarks and the report."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from e2cnn import nn as enn

from core.models.rotation import EquivariantBlock

__all__ = ["relative_error", "rotation_equivariance_error", "downscale", "scale_equivariance_error", "measure_equivariance",
           "smooth_test_images"]


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b||."""
    a, b = a.detach(), b.detach()
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


@torch.no_grad()
def rotation_equivariance_error(block: EquivariantBlock, x: torch.Tensor, element: int) -> float:
    """|| block(g x) - g block(x) || / || g block(x) ||, g acting through e2cnn's field types."""
    moved = enn.GeometricTensor(x, block.in_type).transform(element).tensor
    expected = enn.GeometricTensor(block(x), block.out_type).transform(element).tensor
    return relative_error(block(moved), expected)


def downscale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Shrink the last two dims by ``factor`` (> 1) with anti-aliased bilinear resampling.

    The exact factor is used for the sampling grid (not the rounded size), so
    two tensors downscaled this way stay aligned.
    """
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:])
    out = F.interpolate(flat, scale_factor=1.0 / factor, mode="bilinear", antialias=True,
                        align_corners=False, recompute_scale_factor=False)
    return out.reshape(*lead, *out.shape[-2:])


@torch.no_grad()
def scale_equivariance_error(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, step: float,
                             shift: int = 1, crop: float = 0.25) -> float:
    """Scale-equivariance error of ``fn`` for down-scaling the input by ``step``.

    ``fn`` maps (B, C, H, W) to scale features (B, C', S, H, W) (or plain maps
    (B, C', H, W), treated as S = 1 with ``shift`` = 0 -- a plain conv's
    reference figure).  Equivariance says fn(down(x))[:, :, s] equals
    down(fn(x)[:, :, s + shift]); the error is the relative L2 gap over
    s = 0 .. S - 1 - shift, on the central region (``crop`` of each border dropped
    to exclude zero-padding effects).
    """
    y = fn(x)
    y_small = fn(downscale(x, step))
    if y.dim() == 4:
        y, y_small = y.unsqueeze(2), y_small.unsqueeze(2)
    n_scales = y.shape[2]
    if not 0 <= shift < n_scales:
        raise ValueError(f"shift {shift} needs at least {shift + 1} scales")
    expected = downscale(y[:, :, shift:], step)
    got = y_small[:, :, : n_scales - shift]
    h, w = got.shape[-2:]
    dh, dw = int(h * crop), int(w * crop)
    return relative_error(got[..., dh:h - dh, dw:w - dw], expected[..., dh:h - dh, dw:w - dw])


def smooth_test_images(batch: int, channels: int, size: int, seed: int = 0, blur: float = 1.0,
                       zero_mean: bool = True) -> torch.Tensor:
    """Random images low-pass filtered with a Gaussian of std ``blur`` px: (B, C, size, size).

    Resampling white noise is itself inexact; band-limited inputs make the
    measured error the layer's.  Values span [0, 1], minus each map's mean when
    ``zero_mean`` -- otherwise the (trivially scale-invariant) response to the
    mean dominates and every filter looks scale-equivariant.
    """
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(batch, channels, size, size, generator=g)
    radius = int(3 * blur)
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (t / blur) ** 2)
    kernel = kernel / kernel.sum()
    flat = noise.reshape(-1, 1, size, size)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
    out = flat.reshape(batch, channels, size, size)
    lo = out.amin(dim=(2, 3), keepdim=True)
    hi = out.amax(dim=(2, 3), keepdim=True)
    out = (out - lo) / (hi - lo).clamp_min(1e-6)
    return out - out.mean(dim=(2, 3), keepdim=True) if zero_mean else out


def measure_equivariance(seed: int = 0) -> dict[str, float]:
    """The figures quoted in docs/science/models.md: relative errors of fresh (randomly initialised) layers/models.

    Keys: ``c4_model_90`` (equivariant model logits, 90 degrees), ``c8_model_90``,
    ``c8_layer_45`` (one R2Conv+BN+ReLU on smooth blobs), ``scale_lift`` /
    ``scale_lift_conv`` (our lifting conv / lift+ReLU+scale conv, step sqrt 2),
    ``plain_conv_scale`` (a plain 3x3 conv, same protocol, no scale shift).
    """
    import math

    from core.models.config import ModelConfig
    from core.models.factory import build_model
    from core.models.rotation import rotation_conv_block, rotation_gspace, trivial_type
    from core.models.scale import ScaleConv, ScaleLift, scale_sigmas

    torch.manual_seed(seed)
    out: dict[str, float] = {}
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(seed))
    for order in (4, 8):
        model = build_model(ModelConfig(arch="equivariant", rotation_order=order))
        with torch.no_grad():
            model(x)
            model.eval()
            ref = model(x)
            out[f"c{order}_model_90"] = max(relative_error(model(torch.rot90(x, k, (2, 3))), ref) for k in (1, 2, 3))
    gspace = rotation_gspace(8)
    block = EquivariantBlock(enn.SequentialModule(*rotation_conv_block(trivial_type(gspace, 2), 3)))
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 33), torch.linspace(-1, 1, 33), indexing="ij")
    blobs = torch.stack([torch.exp(-((xx - 0.2) ** 2 + yy ** 2) / 0.1), torch.exp(-(xx ** 2 + (yy + 0.3) ** 2) / 0.05)])
    blobs = (blobs * (xx ** 2 + yy ** 2 < 0.8)).unsqueeze(0)
    with torch.no_grad():
        block(blobs)
    block.eval()
    out["c8_layer_45"] = rotation_equivariance_error(block, blobs, 1)
    step = math.sqrt(2.0)
    sigmas = scale_sigmas(0.7, step, 3)
    images = smooth_test_images(4, 2, 96, seed=seed + 1)
    lift, conv = ScaleLift(2, 4, sigmas, 9, 3), ScaleConv(4, 4, sigmas, 9, 3)
    plain = torch.nn.Conv2d(2, 4, 3, padding=1, bias=False)
    out["scale_lift"] = scale_equivariance_error(lift, images, step)
    out["scale_lift_conv"] = scale_equivariance_error(lambda z: conv(torch.relu(lift(z))), images, step)
    out["plain_conv_scale"] = scale_equivariance_error(plain, images, step, shift=0)
    return out
