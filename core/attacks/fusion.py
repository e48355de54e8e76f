"""Fold eval-mode BatchNorm into the preceding convolution for faster attack passes.

In eval mode ``BN(conv(x))`` is one affine map per channel after the conv, so
it can be absorbed into the conv's weight and bias: the folded network
computes the same function (up to float rounding) with fewer memory passes,
forward and backward.  Attacks and CLEVER call the network hundreds of times
on the same weights, which makes this worth a one-off copy.
"""

from __future__ import annotations

import logging

from torch import nn

__all__ = ["fold_batchnorm"]

_log = logging.getLogger(__name__)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with Conv→BatchNorm pairs folded, or ``model`` itself.

    The original is returned unchanged when it has no BatchNorm, or when
    ``torch.fx`` cannot trace it (data-dependent control flow, custom tensor
    types); the attack then simply runs unfused.  The copy is never trained:
    call this again after the weights change.
    """
    if model.training or not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model
    from torch.fx.experimental.optimization import fuse

    try:
        return fuse(model)
    except Exception as exc:  # noqa: BLE001 - tracing arbitrary user code can fail in any way
        _log.debug("BatchNorm folding skipped for %s: %s", type(model).__name__, exc)
        return model
