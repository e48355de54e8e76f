"""Eval mode (and frozen parameters) for the duration of an attack, restored exactly afterwards."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from torch import nn

__all__ = ["frozen_eval", "eval_mode"]


@contextmanager
def frozen_eval(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode with frozen parameters; restore both on exit.

    Every submodule's own ``training`` flag and every parameter's
    ``requires_grad`` are restored individually, so a model that was partly in
    eval mode (e.g. frozen BatchNorm during fine-tuning) comes back unchanged.
    """
    modes = [(m, m.training) for m in model.modules()]
    grads = [(p, p.requires_grad) for p in model.parameters()]
    try:
        model.eval()
        for p, _ in grads:
            p.requires_grad_(False)
        yield model
    finally:
        for m, mode in modes:
            m.training = mode
        for p, flag in grads:
            p.requires_grad_(flag)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode without freezing parameters (e.g. for Grad-CAM, which needs the
    activations in the autograd graph); each submodule's flag is restored."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        yield model
    finally:
        for m, mode in modes:
            m.training = mode
