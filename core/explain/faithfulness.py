"""Faithfulness of a map to the model: deletion and insertion curves (Petsiuk et al., BMVC 2018).

Pixels are ranked by the map, most important first.  **Deletion** replaces the
top fraction ``k / steps`` of the pixels (all channels) by the baseline value
and records the target score; a faithful map makes the score fall fast (low
AUC).  **Insertion** starts from the baseline image and puts the top pixels
back; a faithful map makes the score rise fast (high AUC).  The same curves
for a seeded random ranking are the reference: a map is only informative
where it beats the random order.

Details:

* ``baseline`` (default 0.0, black) is the replacement value; it is also
  the image insertion starts from.
* Ties in the map (e.g. the flat zero part of a CAM) are broken by a seeded
  random permutation, so curves are reproducible and not biased to the
  image's top-left corner.
* AUC is the trapezoid rule over the deleted/inserted fraction in [0, 1]
  (``steps + 1`` points including 0 and 1).
* Use a probability-valued target (:class:`core.explain.ClassProbabilityTarget`,
  or the exponential of a prototype log-probability) so AUCs are comparable
  across models.

The deletion curve equals Quantus' ``PixelFlipping`` on single-channel inputs (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.errors import ConfigError
from core.explain.base import TargetSpec, resolve_target

__all__ = ["FaithfulnessResult", "deletion_insertion", "pixel_order"]


@dataclass
class FaithfulnessResult:
    """Deletion/insertion curves (B, steps + 1) and their AUCs (B,) for the map and a random order."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    deletion_random: np.ndarray
    insertion_random: np.ndarray

    @staticmethod
    def auc(curves: np.ndarray) -> np.ndarray:
        """Trapezoid area under (B, steps + 1) curves over the fraction axis [0, 1] -> (B,)."""
        steps = curves.shape[1] - 1
        return (curves.sum(1) - 0.5 * (curves[:, 0] + curves[:, -1])) / steps

    def aucs(self) -> dict[str, np.ndarray]:
        """``deletion``, ``insertion`` and their ``*_random`` references: (B,) each."""
        return {k: self.auc(getattr(self, k)) for k in
                ("deletion", "insertion", "deletion_random", "insertion_random")}


def pixel_order(maps: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(B, H*W) pixel indices from the highest to the lowest map value; ties in seeded random order."""
    flat = maps.detach().flatten(1)
    perm = torch.rand(flat.shape, generator=generator).argsort(1).to(flat.device)  # one shuffle per image
    ranked = torch.sort(flat.gather(1, perm), dim=1, descending=True, stable=True).indices
    return perm.gather(1, ranked)


@torch.no_grad()
def _curves(model: nn.Module, x: torch.Tensor, order: torch.Tensor, target, steps: int,
            baseline: float) -> tuple[np.ndarray, np.ndarray]:
    b, c, h, w = x.shape
    hw = h * w
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(hw, device=x.device).expand(b, hw))  # position of each pixel in the order
    base = torch.full_like(x, baseline)
    deletion, insertion = [], []
    for k in range(steps + 1):
        top = (rank < round(k * hw / steps)).view(b, 1, h, w)
        for out, image in ((deletion, torch.where(top, base, x)), (insertion, torch.where(top, x, base))):
            scores = target(model(image))
            if scores.shape != (b,):
                raise ConfigError(f"a faithfulness target must return one score per image, got {tuple(scores.shape)}")
            out.append(scores.double().cpu().numpy())
    return np.stack(deletion, 1), np.stack(insertion, 1)


def deletion_insertion(model: nn.Module, x: torch.Tensor, maps: torch.Tensor, targets: TargetSpec, *,
                       steps: int = 32, baseline: float = 0.0, seed: int = 0) -> FaithfulnessResult:
    """Deletion and insertion curves of ``maps`` for ``model`` in eval mode (its mode is restored).

    Args:
        model: the network.
        x: (B, C, H, W) images.
        maps: (B, H, W) explanation maps of ``x`` (raw or [0, 1]; only their order matters).
        targets: target callable (model output -> (B,)) or class indices.
        steps: number of equal fractions; ``steps + 1`` forward passes per curve.
        baseline: the replacement value.
        seed: tie-breaking and random-reference seed.

    Returns:
        :class:`FaithfulnessResult`.
    """
    from core.attacks.base import eval_mode

    if not isinstance(x, torch.Tensor) or x.dim() != 4 or maps.shape != (x.shape[0], *x.shape[-2:]):
        raise ConfigError("deletion/insertion needs images (B, C, H, W) and maps (B, H, W) of the same size")
    if steps < 1:
        raise ConfigError("deletion/insertion needs at least 1 step")
    target = resolve_target(targets)
    param = next(iter(model.parameters()), None)
    x = x.to(param.device if param is not None else "cpu")
    gen = torch.Generator().manual_seed(int(seed))
    order = pixel_order(maps.to(x.device), gen)
    random_order = pixel_order(torch.zeros_like(maps), gen).to(x.device)
    with eval_mode(model):
        deletion, insertion = _curves(model, x, order, target, steps, baseline)
        deletion_r, insertion_r = _curves(model, x, random_order, target, steps, baseline)
    return FaithfulnessResult(np.arange(steps + 1) / steps, deletion, insertion, deletion_r, insertion_r)
