"""Checks of the model's output made once per attack call, before any gradient is taken.

* The output must be ``(B, K)`` logits, and every label a class of the model
  (a label ``>= K`` used to escape as an ``IndexError`` deep inside the loss).
* Outputs that look like probabilities (every row in ``[0, 1]`` and summing to
  1) make cross-entropy and DLR gradients vanish or mislead; AutoAttack's
  ``check_range_output`` warns about them, and so do we.
"""

from __future__ import annotations

import warnings

from torch import Tensor

from core.errors import ConfigError

__all__ = ["ProbabilityOutputWarning", "looks_like_probabilities", "check_logits_and_labels"]

_TOL = 1e-5


class ProbabilityOutputWarning(UserWarning):
    """The model seems to return probabilities where attacks need logits."""


def looks_like_probabilities(outputs: Tensor, tol: float = _TOL) -> bool:
    """AutoAttack's test: every value in ``[0, 1]`` and every row summing to 1 (``outputs (B, K)``)."""
    if outputs.numel() == 0:
        return False
    return bool(outputs.max() < 1 + tol and outputs.min() > -tol
                and ((outputs.sum(dim=-1) - 1).abs() < tol).all())


def check_logits_and_labels(logits: Tensor, labels: Tensor, *, what: str = "labels") -> int:
    """Validate a clean forward pass ``logits (B, K)`` against ``labels (B,)``; returns ``K``.

    Raises :class:`ConfigError` for a non-2-D output or a label outside ``0..K-1``;
    warns (:class:`ProbabilityOutputWarning`) when the output looks like probabilities.
    """
    if logits.ndim != 2 or logits.shape[0] != labels.shape[0]:
        raise ConfigError(f"the model must return (B, K) logits for (B, C, H, W) images; got an output of shape "
                          f"{tuple(logits.shape)} for {labels.shape[0]} images")
    n_classes = int(logits.shape[1])
    if labels.numel() and int(labels.max()) >= n_classes:
        raise ConfigError(f"{what} must be classes of the model (0..{n_classes - 1}, it has {n_classes} classes); "
                          f"got {int(labels.max())}")
    if looks_like_probabilities(logits):
        warnings.warn("the model's outputs look like probabilities (each row in [0, 1], summing to 1); attacks "
                      "need logits (remove the final softmax), otherwise robustness is overestimated",
                      ProbabilityOutputWarning, stacklevel=3)
    return n_classes
