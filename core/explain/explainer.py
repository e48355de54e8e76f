"""The base class of every explainer: one call signature, one set of housekeeping.

Every explainer - Grad-CAM, Grad-CAM++, occlusion, Integrated Gradients - is
called the same way::

    with Explainer(model, ...) as explain:
        maps = explain(x, targets)          # x (B, C, H, W) -> maps (B, H, W)

:class:`Explainer` owns what they share: the input check, turning a class
index into a :class:`~core.explain.targets.ClassLogitTarget`, moving the input
to the model's device, switching the model to eval mode for the call and
restoring every sub-module's previous mode afterwards (``eval_mode=True``),
checking that a target gives one score per image, and releasing hooks when
used as a context manager.  A subclass implements only :meth:`Explainer.explain`.

``signed`` says whether the raw maps can be negative (attributions) or are
non-negative by construction (CAMs); :func:`core.explain.metrics.unit_maps`
turns either kind into [0, 1] maps for the alignment metrics.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn

from core.errors import ConfigError

__all__ = ["Explainer"]


class Explainer:
    """Base class: ``explainer(x (B, C, H, W), targets) -> (B, H, W)`` maps.

    Args:
        model: the network; its output goes to the target callable.
        eval_mode: run the call in eval mode and restore the previous modes
            afterwards (what evaluation wants); ``False`` leaves the mode as
            the caller set it (guided training computes CAMs in train mode).
    """

    #: Human-readable name used in reports.
    name = "explainer"
    #: Whether raw maps may be negative (attributions) or are >= 0 (CAMs).
    signed = True

    def __init__(self, model: nn.Module, eval_mode: bool = True) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(f"{self.name} needs a torch model (nn.Module)")
        self.model = model
        self.eval_mode = bool(eval_mode)

    @property
    def device(self) -> torch.device:
        """The device of the model's first parameter (CPU for a parameter-free model)."""
        param = next(iter(self.model.parameters()), None)
        return param.device if param is not None else torch.device("cpu")

    # ------------------------------------------------------------ housekeeping
    def release(self) -> None:
        """Free hooks or buffers; explainers without any keep this no-op."""

    def __enter__(self) -> "Explainer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()

    def scores(self, outputs: torch.Tensor, target, batch: int) -> torch.Tensor:
        """``target(outputs)`` checked to be one score per image: (batch,)."""
        scores = target(outputs)
        if not isinstance(scores, torch.Tensor) or scores.shape != (batch,):
            shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
            raise ConfigError(f"the {self.name} target must return one score per image, got {shape}")
        return scores

    # ------------------------------------------------------------- subclasses
    def explain(self, x: torch.Tensor, target) -> torch.Tensor:
        """(B, H, W) maps for ``x`` (B, C, H, W) on the model's device; ``target`` is callable."""
        raise NotImplementedError

    # ------------------------------------------------------------------- call
    def __call__(self, x: torch.Tensor, targets) -> torch.Tensor:
        """Explain ``targets`` for the images ``x``.

        Args:
            x: (B, C, H, W) input batch.
            targets: callable(model output) -> (B,) scores (e.g.
                :class:`~core.explain.targets.ClassLogitTarget`,
                :class:`core.fewshot.PrototypeScoreTarget`), or a class index /
                (B,) class indices (shorthand for ``ClassLogitTarget``).

        Returns:
            (B, H, W) float maps on the model's device.
        """
        # Imported here: core.attacks must be free to import core.explain.
        from core.attacks.base import eval_mode
        from core.explain.base import resolve_target

        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise ConfigError(f"{self.name} input must be a (B, C, H, W) tensor")
        target = resolve_target(targets)
        x = x.to(self.device)
        with eval_mode(self.model) if self.eval_mode else nullcontext():
            maps = self.explain(x, target)
        if maps.shape != (x.shape[0], *x.shape[-2:]):
            raise AssertionError(f"{self.name} returned maps of shape {tuple(maps.shape)} for input {tuple(x.shape)}")
        return maps
