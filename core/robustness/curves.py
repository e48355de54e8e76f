"""Accuracy curves: under any attack of core.attacks as ε grows, and under rotation or rescaling."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from core.attacks import make_attack
from core.attacks.base import frozen_eval
from core.errors import ConfigError
from core.progress import ProgressCallback
from core.robustness.stats import MeanCI, mean_ci_over_seeds

__all__ = ["Curve", "predict", "accuracy", "attack_curve", "transform_curve",
           "rotation_curve", "scale_curve", "aggregate_curves"]


@dataclass
class Curve:
    """Accuracy at each x value (ε, angle, scale factor), one row per seed.

    ``per_seed`` is ``(S, E)``; ``ci_over`` says what the seeds are (attack
    random starts, training runs, ...) so the interval is never ambiguous.
    """

    kind: str
    x: list[float]
    per_seed: np.ndarray
    seeds: list[int]
    ci_over: str
    meta: dict = field(default_factory=dict)

    def summary(self) -> list[MeanCI]:
        """Mean and 95% t-interval over the seeds at each x."""
        return mean_ci_over_seeds(self.per_seed)

    def to_dict(self) -> dict:
        stats = self.summary()
        return {
            "kind": self.kind, "x": list(map(float, self.x)), "seeds": list(self.seeds),
            "ci_over": self.ci_over, "per_seed": np.asarray(self.per_seed).tolist(),
            "mean": [s.mean for s in stats],
            "ci95": [None if np.isnan(s.half_width) else s.half_width for s in stats],
            **({"meta": self.meta} if self.meta else {}),
        }


def _check_data(images: Tensor, labels: Tensor) -> None:
    if images.ndim != 4 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ConfigError(f"need images (N, C, H, W) and labels (N,), got {tuple(images.shape)} "
                          f"and {tuple(labels.shape)}")
    if images.shape[0] == 0:
        raise ConfigError("no images to evaluate")


def _device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def predict(model: nn.Module, images: Tensor, batch_size: int = 256) -> Tensor:
    """Predicted classes ``(N,)`` of ``images (N, C, H, W)``, in eval mode."""
    device = _device(model)
    out = []
    with frozen_eval(model), torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            out.append(model(images[start:start + batch_size].to(device)).argmax(dim=1).cpu())
    return torch.cat(out)


def accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 256) -> float:
    """Top-1 accuracy in ``[0, 1]``."""
    _check_data(images, labels)
    return float((predict(model, images, batch_size) == labels.cpu()).float().mean())


def attack_curve(model: nn.Module, images: Tensor, labels: Tensor, eps: Sequence[float], *,
                 attack: str = "fgsm", norm: str = "inf", steps: int | None = None, alpha: float | None = None,
                 random_start: bool = True, restarts: int = 1, seeds: Sequence[int] = (0,),
                 batch_size: int = 128, version: str = "standard", n_queries: int | None = None,
                 dist=None, progress: ProgressCallback | None = None) -> Curve:
    """Robust accuracy at every ε, ``per_seed (S, E)``, for one attack of :data:`core.attacks.ATTACKS`.

    All ε values are attacked in one batched call per mini-batch (see
    :class:`core.attacks.Attack`); every mini-batch is seeded from
    ``(seed, batch index)`` (:mod:`core.robustness.sharding`).  FGSM and PGD
    without random start are deterministic, so they run once.  An image counts
    as robust when it is classified correctly both clean and attacked.

    Args:
        images: ``(N, C, H, W)`` in ``[0, 1]``; labels: ``(N,)``.
        eps: ε values in pixel units (0 gives clean accuracy).
        steps: ``None`` is the attack's own default (PGD 10, APGD 100).
        dist: a :class:`core.training.DistContext` to split the batches over ``torchrun`` ranks.
    """
    from core.robustness.outcomes import run_attack
    from core.robustness.sharding import SINGLE

    _check_data(images, labels)
    eps = [float(e) for e in eps]
    key = attack.lower()
    atk = make_attack(key, model, eps, norm=norm, steps=steps, alpha=alpha, random_start=random_start,
                      restarts=restarts, version=version, n_queries=n_queries)
    stochastic = not (key == "fgsm" or (key == "pgd" and not random_start))
    seeds = list(seeds) if stochastic else list(seeds)[:1]
    if not seeds:
        raise ConfigError("need at least one seed")
    meta = {"norm": str(norm).lower().removeprefix("l"), "random_start": bool(stochastic)}
    if key == "pgd":
        meta.update(steps=steps or 10, alpha=alpha)
    elif key == "fgsm":
        meta.update(steps=1)
    outcome = run_attack(atk, images, labels, eps, name=key, seeds=seeds, batch_size=batch_size,
                         dist=dist or SINGLE, progress=progress, meta=meta)
    ci_over = "attack random starts" if stochastic else "deterministic attack (one run)"
    if key == "pgd" and stochastic:
        ci_over = "PGD random starts"
    return outcome.curve(ci_over)


def transform_curve(model: nn.Module, images: Tensor, labels: Tensor, values: Sequence[float],
                    transform: Callable[[Tensor, float], Tensor], kind: str,
                    batch_size: int = 256) -> Curve:
    """Accuracy of ``model`` on ``transform(images, v)`` for each ``v`` (one deterministic row)."""
    _check_data(images, labels)
    accs = [accuracy(model, transform(images, float(v)), labels, batch_size) for v in values]
    return Curve(kind, [float(v) for v in values], np.asarray([accs]), [0], "deterministic transform")


def rotation_curve(model: nn.Module, images: Tensor, labels: Tensor, angles: Sequence[float],
                   batch_size: int = 256) -> Curve:
    """Accuracy versus rotation angle in degrees (``core.datasets.rotate_images``)."""
    from core.datasets import rotate_images

    return transform_curve(model, images, labels, angles, rotate_images, "rotation", batch_size)


def scale_curve(model: nn.Module, images: Tensor, labels: Tensor, factors: Sequence[float],
                batch_size: int = 256) -> Curve:
    """Accuracy versus rescaling factor (``core.datasets.rescale_images``)."""
    from core.datasets import rescale_images

    return transform_curve(model, images, labels, factors, rescale_images, "scale", batch_size)


def aggregate_curves(curves: Sequence[Curve], seeds: Sequence[int], ci_over: str) -> Curve:
    """One curve whose row ``s`` is the seed-mean of ``curves[s]`` (e.g. one per trained model)."""
    if not curves:
        raise ConfigError("no curves to aggregate")
    x = curves[0].x
    if any(list(c.x) != list(x) for c in curves):
        raise ConfigError("curves to aggregate must share their x values")
    rows = np.stack([np.asarray(c.per_seed).mean(axis=0) for c in curves])
    return Curve(curves[0].kind, list(x), rows, list(seeds), ci_over, dict(curves[0].meta))
