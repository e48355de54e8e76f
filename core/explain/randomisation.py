"""Model-parameter randomisation sanity check (Adebayo et al., NeurIPS 2018), cascading, top layer first.

Starting from a copy of the trained model, the layers that own parameters are
re-initialised one after another from the output down (cascading): after step
``k`` the top ``k`` layers are random.  For every explainer, the maps of each
randomised copy are compared with the trained model's maps on the same inputs
and targets.  An explainer that depends on what the model learned gives maps
that decorrelate as layers are randomised; maps that stay similar reflect the
input or the architecture, not the learned function.

Conventions, chosen to match Quantus' ``MPRT`` (tested against it):

* the layers are the modules with a ``reset_parameters`` method (conv, linear,
  batch norm: its running statistics and affine parameters are reset too) in
  reverse ``named_modules`` order;
* each layer is re-initialised by its own ``reset_parameters`` right after
  seeding torch's generator with ``seed + 1`` - inside ``torch.random.fork_rng``,
  so the caller's random state is untouched;
* similarity is Spearman's rank correlation of the raw maps per image
  (NaN for a constant map); we add it on ``|map|`` and the SSIM of the
  [0, 1] maps (:func:`core.explain.metrics.unit_maps`).

The model passed in is never modified: all randomisation happens on a deep copy.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from core.errors import ConfigError
from core.explain.base import TargetSpec
from core.explain.metrics import unit_maps
from core.explain.registry import ExplainerFactory
from core.explain.similarity import rank_correlation, ssim

__all__ = ["RandomisationResult", "cascading_randomisation", "randomisation_check", "randomisable_layers"]


def randomisable_layers(model: nn.Module) -> list[str]:
    """Names of the layers the check re-initialises, in the order it does (top layer first)."""
    return [name for name, m in model.named_modules() if callable(getattr(m, "reset_parameters", None))][::-1]


def cascading_randomisation(model: nn.Module, seed: int = 0,
                            max_layers: int | None = None) -> Iterator[tuple[str, nn.Module]]:
    """Yield ``(layer name, copy)`` with one more layer randomised at each step, top layer first.

    The same copy object is yielded each time (randomised further); ``model``
    itself is never touched.  ``max_layers`` stops after that many layers.
    """
    randomised = copy.deepcopy(model)
    modules = dict(randomised.named_modules())
    names = randomisable_layers(randomised)[:max_layers]
    cuda = sorted({p.device.index or 0 for p in randomised.parameters() if p.device.type == "cuda"})
    for name in names:
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed + 1)
            modules[name].reset_parameters()
        yield name, randomised


@dataclass
class RandomisationResult:
    """Similarity of each randomised copy's maps to the trained model's maps.

    ``layers`` (L,) are the layer names in randomisation order; for every
    explainer name, ``spearman``, ``spearman_abs`` and ``ssim`` are (L, B)
    arrays: row k compares the copy with the top k+1 layers randomised.
    """

    layers: list[str]
    seed: int
    spearman: dict[str, np.ndarray] = field(default_factory=dict)
    spearman_abs: dict[str, np.ndarray] = field(default_factory=dict)
    ssim: dict[str, np.ndarray] = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-ready ``{explainer: {"layers", "spearman", "spearman_abs", "ssim", "n"}}``: per-layer means
        over the images (NaN-free images only, their count in ``n``)."""
        out = {}
        for name in self.spearman:
            out[name] = {"layers": list(self.layers), "n": np.isfinite(self.spearman[name]).sum(1).tolist()}
            for key in ("spearman", "spearman_abs", "ssim"):
                values = getattr(self, key)[name]
                out[name][key] = [float(np.nanmean(row)) if np.isfinite(row).any() else None for row in values]
        return out


def _maps(factory: ExplainerFactory, model: nn.Module, x: torch.Tensor, targets: TargetSpec) -> torch.Tensor:
    with factory(model) as explain:
        return explain(x, targets).detach()


def randomisation_check(model: nn.Module, x: torch.Tensor, targets: TargetSpec,
                        explainers: Mapping[str, ExplainerFactory], *, seed: int = 0,
                        retarget: Callable[[nn.Module], TargetSpec] | None = None,
                        max_layers: int | None = None, sign: str = "positive") -> RandomisationResult:
    """Cascading model-parameter randomisation for every explainer.

    Args:
        model: the trained model (never modified).
        x: (B, C, H, W) inputs.
        targets: what to explain (a target callable or class indices), used for
            every copy unless ``retarget`` is given.
        explainers: name -> ``model -> explainer`` (see
            :func:`core.explain.registry.explainer_factory`).
        seed: randomisation seed (Quantus convention, see the module docstring).
        retarget: ``model -> targets``, called for the trained model and for
            every randomised copy.  A prototypical network needs it: each copy
            forms its prototypes from the support set itself.
        max_layers: randomise only the top ``max_layers`` layers.
        sign: how the SSIM's [0, 1] maps are made (:func:`~core.explain.metrics.unit_maps`).

    Returns:
        :class:`RandomisationResult`.
    """
    if not explainers:
        raise ConfigError("the randomisation check needs at least one explainer")
    if not randomisable_layers(model):
        raise ConfigError("the model has no layer with reset_parameters to randomise")
    target0 = retarget(model) if retarget is not None else targets
    trained = {name: _maps(f, model, x, target0) for name, f in explainers.items()}
    trained_unit = {name: unit_maps(m, sign) for name, m in trained.items()}
    layers: list[str] = []
    rows: dict[str, dict[str, list]] = {k: {n: [] for n in explainers} for k in ("spearman", "spearman_abs", "ssim")}
    for layer, randomised in cascading_randomisation(model, seed, max_layers):
        layers.append(layer)
        target = retarget(randomised) if retarget is not None else targets
        for name, factory in explainers.items():
            maps = _maps(factory, randomised, x, target)
            rows["spearman"][name].append(rank_correlation(trained[name], maps))
            rows["spearman_abs"][name].append(rank_correlation(trained[name].abs(), maps.abs()))
            rows["ssim"][name].append(ssim(trained_unit[name], unit_maps(maps, sign)))
    stacked = {k: {n: np.stack(v) for n, v in per.items()} for k, per in rows.items()}
    return RandomisationResult(layers, seed, stacked["spearman"], stacked["spearman_abs"], stacked["ssim"])
