"""The flat batch every attack works on, and the seeded noise drawn for it.

An attack called on ``B`` images and ``E`` values of ε works on one flat batch
of ``N = E·B`` samples (ε-major).  Each sample remembers the index of its
source image, so random draws are made once per *image* and shared by all its
ε copies: a batched call then equals a loop of seeded single-ε calls, and an
ensemble that re-attacks a subset of the samples gives each the same noise a
direct call would.

Every stochastic part of an attack (a restart, an ensemble member) takes its
own child generator, seeded from the caller's at a fixed point; how many
numbers one part consumes (e.g. a restart skipped because every sample is
already fooled) never shifts the draws of the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import Tensor

__all__ = ["FlatBatch", "child_generators", "image_noise", "unit_ball_noise"]


@dataclass(frozen=True)
class FlatBatch:
    """``N`` samples to attack, each with its own ε, mask and source image.

    Attributes:
        x: ``(N, C, H, W)`` clean images in ``[0, 1]``.
        y: ``(N,)`` true classes (untargeted) or target classes (targeted).
        eps: ``(N,)`` radius of each sample.
        mask: ``(N, 1, H, W)`` pixels the attack may change (1) or ``None`` (all).
        image: ``(N,)`` index of each sample's source image in ``0..n_images-1``.
        n_images: number of distinct source images ``B``.
        clean_logits: ``(N, K)`` the model's logits on the clean images.
        generator: seeds the attack's random draws (``None``: torch's global RNG).
    """

    x: Tensor
    y: Tensor
    eps: Tensor
    mask: Tensor | None
    image: Tensor
    n_images: int
    clean_logits: Tensor
    generator: torch.Generator | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.clean_logits.shape[1])

    @property
    def clean_correct(self) -> Tensor:
        """``(N,)`` bool: the clean image is classified as ``y``."""
        return self.clean_logits.argmax(dim=1) == self.y

    def subset(self, index: Tensor, generator: torch.Generator | None = None) -> "FlatBatch":
        """The samples ``index`` (1-D long or bool), optionally with another generator."""
        return FlatBatch(self.x[index], self.y[index], self.eps[index],
                         None if self.mask is None else self.mask[index], self.image[index], self.n_images,
                         self.clean_logits[index], self.generator if generator is None else generator)

    def with_generator(self, generator: torch.Generator | None) -> "FlatBatch":
        return replace(self, generator=generator)


def child_generators(generator: torch.Generator | None, n: int) -> list[torch.Generator]:
    """``n`` independent CPU generators seeded from ``generator`` (torch's global RNG if ``None``)."""
    seeds = torch.randint(0, 2 ** 62, (n,), generator=generator, dtype=torch.int64)
    return [torch.Generator().manual_seed(int(s)) for s in seeds]


def image_noise(batch: FlatBatch, tail: tuple[int, ...], kind: str,
                generator: torch.Generator | None) -> Tensor:
    """Noise of shape ``(N, *tail)`` drawn once per source image and gathered per sample.

    ``kind`` is ``"uniform"`` (in ``[0, 1)``), ``"normal"`` or ``"sign"`` (±1).
    Drawn on the CPU so results do not depend on the device.
    """
    shape = (batch.n_images, *tail)
    if kind == "uniform":
        draw = torch.rand(shape, generator=generator)
    elif kind == "normal":
        draw = torch.randn(shape, generator=generator)
    elif kind == "sign":
        draw = torch.randint(0, 2, shape, generator=generator).float() * 2 - 1
    else:  # pragma: no cover - programming error
        raise ValueError(f"unknown noise kind {kind!r}")
    return draw[batch.image.cpu()].to(device=batch.x.device, dtype=batch.x.dtype)


def unit_ball_noise(batch: FlatBatch, norm: str, generator: torch.Generator | None) -> Tensor:
    """``(N, C, H, W)`` points uniform in the unit L∞ or L2 ball (PGD's random start).

    L2: a Gaussian direction times ``U^(1/d)``, which makes the density uniform in volume.
    """
    tail = tuple(batch.x.shape[1:])
    if norm == "inf":
        return 2 * image_noise(batch, tail, "uniform", generator) - 1
    # One generator call per quantity keeps the stream layout simple: directions, then radii.
    g = image_noise(batch, tail, "normal", generator)
    radius = image_noise(batch, (), "uniform", generator) ** (1.0 / math.prod(tail))
    direction = g / g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return direction * radius.view(-1, 1, 1, 1)
