"""Corruption suite in the spirit of CIFAR-10-C: 5 severities each, deterministic under a seed.

Every corruption maps a batch of (B, C, H, W) pixels in [0, 1] (torch tensor
or numpy array; the same type comes back) to a corrupted batch in [0, 1].
Severity parameters follow Hendrycks & Dietterich's CIFAR-10-C choices where
they apply to small images; ``rotate`` and ``rescale`` add the geometric
transformations the symmetry-aware models target.
"""

from __future__ import annotations

import io
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from core.datasets.geometric import rescale_images, rotate_images
from core.errors import ConfigError

__all__ = ["CORRUPTIONS", "SEVERITY_PARAMS", "corrupt", "psnr"]

#: Parameter of each corruption at severities 1..5 (units in each function's docstring).
SEVERITY_PARAMS: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),    # noise std
    "shot_noise": (500, 250, 100, 75, 50),               # photons at full intensity
    "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.07),     # fraction of salt-and-pepper pixels
    "gaussian_blur": (0.4, 0.6, 0.7, 0.8, 1.0),          # blur std in pixels (of a 32-px image)
    "defocus_blur": (0.75, 1.0, 1.25, 1.5, 2.0),         # disk radius in pixels (of a 32-px image)
    "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),             # contrast kept
    "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),             # added to HSV value
    "jpeg": (80, 65, 58, 50, 40),                        # JPEG quality
    "pixelate": (2, 3, 4, 5, 6),                         # block side in pixels (of a 32-px image)
    "rotate": (6.0, 12.0, 18.0, 24.0, 30.0),             # degrees counter-clockwise
    "rescale": (0.9, 0.8, 0.7, 0.6, 0.5),                # zoom factor (< 1: zoom out)
}

CORRUPTIONS: tuple[str, ...] = tuple(SEVERITY_PARAMS)


def _size_scale(x: torch.Tensor) -> float:
    """Spatial parameters are given for 32-px images; scale them with the image."""
    return x.shape[-1] / 32.0


def _gaussian_noise(x, p, rng):
    return x + torch.from_numpy(rng.normal(0.0, p, size=x.shape)).to(x)


def _shot_noise(x, p, rng):
    return torch.from_numpy(rng.poisson(x.double().numpy() * p) / p).to(x)


def _impulse_noise(x, p, rng):
    out = x.clone()
    hit = torch.from_numpy(rng.random(x.shape) < p)
    salt = torch.from_numpy(rng.random(x.shape) < 0.5).to(x)
    out[hit] = salt[hit]
    return out


def _blur_with(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    r = kernel.shape[-1] // 2
    padded = F.pad(x, (r, r, r, r), mode="reflect")
    return F.conv2d(padded, kernel.to(x).expand(c, 1, *kernel.shape), groups=c)


def _gaussian_blur(x, p, rng):
    sigma = p * _size_scale(x)
    r = max(1, int(np.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = torch.outer(g, g)
    return _blur_with(x, (kernel / kernel.sum()).float())


def _defocus_blur(x, p, rng):
    radius = p * _size_scale(x)
    r = int(np.ceil(radius))
    # Anti-aliased disk: coverage of each pixel estimated on a 8x8 sub-grid.
    sub = (torch.arange(8, dtype=torch.float64) + 0.5) / 8 - 0.5
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    yy = (t.view(-1, 1, 1, 1) + sub.view(1, 1, -1, 1))
    xx = (t.view(1, -1, 1, 1) + sub.view(1, 1, 1, -1))
    kernel = ((yy ** 2 + xx ** 2) <= radius ** 2).double().mean(dim=(2, 3))
    return _blur_with(x, (kernel / kernel.sum()).float())


def _contrast(x, p, rng):
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * p + mean


def _brightness(x, p, rng):
    # Raise the HSV value V = max over channels by p keeping hue and saturation:
    # every channel is multiplied by (V + p) / V (for grey images: x + p).
    value = x.amax(dim=1, keepdim=True)
    new_value = (value + p).clamp(max=1.0)
    return torch.where(value > 0, x * new_value / value.clamp_min(1e-8), new_value.expand_as(x))


def _jpeg(x, p, rng):
    from PIL import Image

    out = torch.empty_like(x)
    arr = (x.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    for i, img in enumerate(arr):
        pil = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
        buf = io.BytesIO()
        pil.save(buf, format="JPEG", quality=int(p))
        dec = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float32) / 255.0
        out[i] = torch.from_numpy(dec.reshape(img.shape)).permute(2, 0, 1)
    return out


def _pixelate(x, p, rng):
    # Exact b x b blocks anchored at the top-left (partial blocks at the far
    # edges): resampling to a non-integer size would misalign blocks and make
    # the damage non-monotone in the severity.
    b = max(1, round(p * _size_scale(x)))
    h, w = x.shape[-2:]
    blocks = F.avg_pool2d(x, b, stride=b, ceil_mode=True, count_include_pad=False)
    return blocks.repeat_interleave(b, dim=2).repeat_interleave(b, dim=3)[..., :h, :w]


_FUNCS: dict[str, Callable] = {
    "gaussian_noise": _gaussian_noise, "shot_noise": _shot_noise, "impulse_noise": _impulse_noise,
    "gaussian_blur": _gaussian_blur, "defocus_blur": _defocus_blur, "contrast": _contrast,
    "brightness": _brightness, "jpeg": _jpeg, "pixelate": _pixelate,
    "rotate": lambda x, p, rng: rotate_images(x, p),
    "rescale": lambda x, p, rng: rescale_images(x, p),
}


def corrupt(images: torch.Tensor | np.ndarray, name: str, severity: int, seed: int = 0) -> torch.Tensor | np.ndarray:
    """Apply corruption ``name`` at ``severity`` (1..5) to (B, C, H, W) pixels in [0, 1].

    Deterministic for a given ``seed``; returns the input's type (tensor or
    numpy float array), clipped to [0, 1].
    """
    if name not in _FUNCS:
        raise ConfigError(f"unknown corruption {name!r}; choose one of {', '.join(CORRUPTIONS)}")
    if not 1 <= int(severity) <= 5:
        raise ConfigError(f"severity must be 1..5, got {severity}")
    as_numpy = isinstance(images, np.ndarray)
    x = torch.as_tensor(images, dtype=torch.float32) if as_numpy else images
    if x.dim() != 4:
        raise ConfigError(f"corrupt expects (B, C, H, W) images, got shape {tuple(x.shape)}")
    device = x.device
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        out = _FUNCS[name](x.detach().float().cpu(), SEVERITY_PARAMS[name][int(severity) - 1], rng)
    out = out.clamp_(0.0, 1.0).to(device=device, dtype=x.dtype)
    return out.numpy() if as_numpy else out


def psnr(clean: torch.Tensor, other: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of ``other`` against ``clean`` (peak 1)."""
    mse = float(((clean - other) ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * float(np.log10(1.0 / mse))
