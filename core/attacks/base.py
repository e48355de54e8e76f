"""The :class:`Attack` base class: everything an attack needs except its update rule.

Subclasses implement :meth:`Attack._perturb` on a flat batch in which every
sample carries its own ε.  The base class owns the housekeeping:

* eval mode during the attack (BatchNorm statistics and dropout frozen), with
  every submodule's previous ``training`` flag restored afterwards, also when
  the attack raises;
* parameters temporarily frozen (``requires_grad=False``) so no gradient is
  accumulated into, or even computed for, the weights;
* the device taken from the model's parameters;
* validation of images (``(B, C, H, W)`` in ``[0, 1]``), labels, ε and ROI;
* projection onto the ε-ball, clamping to ``[0, 1]`` and an optional ROI mask
  outside of which the perturbation is exactly zero;
* a batched ε axis: several ε values are stacked into the batch dimension, so
  a whole robustness curve costs one forward/backward pass per step.  With the
  model in eval mode every sample is processed independently, so this equals a
  loop over ε up to floating-point summation order.

All values are pixel units: images in ``[0, 1]``, ε e.g. ``8/255``.  The model
is expected to normalise internally and to return logits.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.attacks.fusion import fold_batchnorm
from core.errors import ConfigError

__all__ = ["Attack", "LossFn", "ROI_MODES", "frozen_eval", "eval_mode", "as_eps_tensor", "prepare_roi"]

LossFn = Callable[[Tensor, Tensor], Tensor]
"""``loss(logits (N, K), labels (N,)) -> (N,)`` per-sample loss to maximise."""

ROI_MODES = ("inside", "outside")

# Inputs produced by resampling can overshoot [0, 1] by rounding; tolerate that much.
_RANGE_TOL = 1e-5


def _per_sample_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    return F.cross_entropy(logits, labels, reduction="none")


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


def as_eps_tensor(eps: float | Sequence[float] | Tensor) -> tuple[Tensor, bool]:
    """ε as a 1-D float64 tensor plus whether the caller passed several values.

    Raises :class:`ConfigError` for negative, non-finite or empty ε.
    """
    batched = not isinstance(eps, (int, float)) and not (isinstance(eps, Tensor) and eps.ndim == 0)
    values = torch.as_tensor(eps, dtype=torch.float64).reshape(-1)
    if values.numel() == 0:
        raise ConfigError("eps needs at least one value")
    if not torch.isfinite(values).all() or (values < 0).any():
        raise ConfigError(f"eps must be finite and >= 0, got {values.tolist()}")
    return values, batched


def prepare_roi(roi: Tensor | None, images: Tensor, mode: str) -> Tensor | None:
    """The ``(B, 1, H, W)`` 0/1 mask of pixels the attack may change, or ``None``.

    ``roi`` is ``(H, W)``, ``(1, H, W)``, ``(1, 1, H, W)`` or ``(B, 1, H, W)``,
    boolean or numeric (non-zero = inside the region).  ``mode="inside"``
    allows changes inside the region only, ``"outside"`` outside it only.
    """
    if mode not in ROI_MODES:
        raise ConfigError(f"roi_mode must be one of {ROI_MODES}, got {mode!r}")
    if roi is None:
        return None
    roi = torch.as_tensor(roi)
    b, _, h, w = images.shape
    if roi.ndim == 2:
        roi = roi[None, None]
    elif roi.ndim == 3:
        roi = roi[:, None]
    if roi.ndim != 4 or roi.shape[1] != 1 or roi.shape[-2:] != (h, w) or roi.shape[0] not in (1, b):
        raise ConfigError(
            f"ROI mask must be (H, W) or (B, 1, H, W) matching images {tuple(images.shape)}, "
            f"got {tuple(roi.shape)}")
    inside = roi.to(images.device) != 0
    allowed = inside if mode == "inside" else ~inside
    return allowed.to(images.dtype).expand(b, 1, h, w)


class Attack(ABC):
    """Base class of every attack; call it like a function.

    ``attack(images (B, C, H, W), labels (B,))`` returns adversarial images of
    shape ``(B, C, H, W)`` for a single ε, or ``(E, B, C, H, W)`` when ε is a
    sequence of E values.  With ``targeted=True`` the labels are the target
    classes and the attack minimises their loss.

    Args:
        model: maps ``(B, C, H, W)`` pixels in ``[0, 1]`` to logits ``(B, K)``.
        eps: radius in pixel units, one value or a sequence (batched ε axis).
        targeted: attack towards ``labels`` instead of away from them.
        loss: per-sample loss ``(logits, labels) -> (N,)``; cross-entropy by default.
        roi_mode: where an ROI mask passed at call time allows perturbation.
        fuse_bn: attack a copy of the eval-mode model with BatchNorm folded into
            the convolutions (same function up to float rounding, about 1.5-2×
            faster on CPU); models ``torch.fx`` cannot trace run unfused.
        max_batch: samples per forward/backward pass.  The flat ``E·B`` batch is
            processed in chunks of this size (64 is fastest for small CNNs on
            CPU; raise it on a GPU).  Results do not depend on it.
    """

    #: name of the norm whose ball the perturbation stays in ("inf" or "2")
    norm: str = "inf"

    def __init__(self, model: nn.Module, eps: float | Sequence[float] = 8 / 255, *,
                 targeted: bool = False, loss: LossFn | None = None,
                 roi_mode: str = "inside", fuse_bn: bool = True, max_batch: int = 64) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        as_eps_tensor(eps)
        if roi_mode not in ROI_MODES:
            raise ConfigError(f"roi_mode must be one of {ROI_MODES}, got {roi_mode!r}")
        self.model = model
        self.eps = eps
        self.targeted = bool(targeted)
        self.loss_fn: LossFn = loss or _per_sample_cross_entropy
        self.roi_mode = roi_mode
        self.fuse_bn = bool(fuse_bn)
        if int(max_batch) < 1:
            raise ConfigError(f"max_batch must be >= 1, got {max_batch}")
        self.max_batch = int(max_batch)
        self._net: nn.Module = model

    # -- public entry point -------------------------------------------------

    def __call__(self, images: Tensor, labels: Tensor, *, eps: float | Sequence[float] | None = None,
                 roi: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Adversarial images ``(B, C, H, W)``, or ``(E, B, C, H, W)`` for several ε.

        Args:
            images: ``(B, C, H, W)`` float pixels in ``[0, 1]``.
            labels: ``(B,)`` true classes (untargeted) or target classes (targeted).
            eps: overrides the ε given at construction.
            roi: optional ROI mask, see :func:`prepare_roi`.
            generator: seeds the random start; the same noise (scaled by each
                ε) is shared by every ε value, which makes the batched call equal
                to a loop of seeded single-ε calls and lowers the variance of
                robustness curves.
        """
        eps_values, batched = as_eps_tensor(self.eps if eps is None else eps)
        device = self._device()
        images, labels = self._validate(images, labels, device)
        allowed = prepare_roi(roi, images, self.roi_mode)
        n_eps, (b, c, h, w) = eps_values.numel(), images.shape

        flat_x = images.repeat(n_eps, 1, 1, 1)
        flat_y = labels.repeat(n_eps)
        flat_eps = eps_values.to(device=device, dtype=images.dtype).repeat_interleave(b)
        flat_mask = None if allowed is None else allowed.repeat(n_eps, 1, 1, 1)
        with frozen_eval(self.model):
            self._net = fold_batchnorm(self.model) if self.fuse_bn else self.model
            try:
                adv = self._perturb(flat_x, flat_y, flat_eps, flat_mask, generator, n_eps)
            finally:
                self._net = self.model
        adv = self._project(adv.detach(), flat_x, flat_eps, flat_mask)
        adv = adv.reshape(n_eps, b, c, h, w)
        return adv if batched else adv[0]

    # -- hooks and helpers for subclasses -------------------------------------

    @abstractmethod
    def _perturb(self, x: Tensor, y: Tensor, eps: Tensor, mask: Tensor | None,
                 generator: torch.Generator | None, n_eps: int) -> Tensor:
        """Return adversarial images for a flat batch.

        ``x (N, C, H, W)`` clean images, ``y (N,)`` labels, ``eps (N,)`` per-sample
        radius, ``mask (N, 1, H, W)`` allowed pixels or ``None``; the batch is
        ``n_eps`` copies of the caller's ``B`` images, ε-major.  The base class
        projects the result once more, so subclasses may return any tensor
        close to the ball.
        """

    def _objective(self, logits: Tensor, y: Tensor) -> Tensor:
        """Per-sample value ``(N,)`` to maximise: the loss, or minus it when targeted."""
        loss = self.loss_fn(logits, y)
        return -loss if self.targeted else loss

    def _gradient(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """``(∇_x objective (N, C, H, W), objective (N,))`` without touching parameter grads.

        The objective is summed, not averaged, so the gradient of one sample
        does not depend on how many others share its batch.
        """
        grads, objectives = [], []
        # Chunks of max_batch samples: on CPU a few small passes beat one pass over E·B
        # images (the activations stay in cache), and eval mode makes samples independent.
        for start in range(0, x.shape[0], self.max_batch):
            xs = x[start:start + self.max_batch].detach().requires_grad_(True)
            objective = self._objective(self._net(xs), y[start:start + self.max_batch])
            (grad,) = torch.autograd.grad(objective.sum(), xs)
            grads.append(grad)
            objectives.append(objective.detach())
        return torch.cat(grads), torch.cat(objectives)

    def _logits(self, x: Tensor) -> Tensor:
        """Logits ``(N, K)`` of ``x (N, C, H, W)`` without autograd, in chunks of ``max_batch``."""
        with torch.no_grad():
            return torch.cat([self._net(x[s:s + self.max_batch]) for s in range(0, x.shape[0], self.max_batch)])

    def _project(self, adv: Tensor, x: Tensor, eps: Tensor, mask: Tensor | None) -> Tensor:
        """Onto ``{x + δ : ‖δ‖ ≤ ε, δ = 0 outside mask} ∩ [0, 1]``."""
        delta = adv - x
        if mask is not None:
            delta = delta * mask
        delta = self._project_delta(delta, eps)
        # x ∈ [0, 1], so clamping x + δ only shrinks |δ| coordinate-wise and keeps δ in the ball.
        return torch.clamp(x + delta, 0.0, 1.0)

    def _project_delta(self, delta: Tensor, eps: Tensor) -> Tensor:
        """Project ``delta (N, C, H, W)`` onto the ε-ball of :attr:`norm`."""
        e = eps.view(-1, 1, 1, 1)
        if self.norm == "inf":
            return torch.maximum(torch.minimum(delta, e), -e)
        norms = delta.flatten(1).norm(p=2, dim=1).view(-1, 1, 1, 1)
        factor = torch.where(norms > e, e / norms.clamp_min(1e-12), torch.ones_like(norms))
        return delta * factor

    def _is_successful(self, logits: Tensor, y: Tensor) -> Tensor:
        """``(N,)`` bool: misclassified (untargeted) or classified as the target."""
        pred = logits.argmax(dim=1)
        return pred == y if self.targeted else pred != y

    # -- internals ------------------------------------------------------------

    def _device(self) -> torch.device:
        for p in self.model.parameters():
            return p.device
        for b in self.model.buffers():
            return b.device
        return torch.device("cpu")

    def _validate(self, images: Tensor, labels: Tensor, device: torch.device) -> tuple[Tensor, Tensor]:
        if not isinstance(images, Tensor) or images.ndim != 4:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ConfigError(f"images must be a (B, C, H, W) tensor, got {shape}")
        if not images.is_floating_point():
            raise ConfigError(f"images must be float pixels in [0, 1], got dtype {images.dtype}")
        images = images.detach().to(device)
        if images.numel() and (images.min() < -_RANGE_TOL or images.max() > 1 + _RANGE_TOL
                               or not torch.isfinite(images).all()):
            raise ConfigError(
                f"images must lie in [0, 1] (pixel units; the model normalises), got range "
                f"[{images.min().item():.3g}, {images.max().item():.3g}]")
        images = images.clamp(0.0, 1.0)
        labels = torch.as_tensor(labels, device=device)
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise ConfigError(f"labels must be ({images.shape[0]},), got {tuple(labels.shape)}")
        if labels.is_floating_point() or labels.dtype == torch.bool:
            raise ConfigError(f"labels must be integer class indices, got dtype {labels.dtype}")
        if labels.numel() and labels.min() < 0:
            raise ConfigError("labels must be >= 0")
        return images, labels.long()

    def __repr__(self) -> str:
        eps = self.eps if isinstance(self.eps, (int, float)) else list(self.eps)
        return f"{type(self).__name__}(eps={eps}, norm={self.norm}, targeted={self.targeted})"


def _unit_linf_noise(shape: torch.Size, like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Uniform noise in ``[-1, 1]`` of ``shape`` (drawn on CPU for reproducibility)."""
    u = torch.rand(shape, generator=generator, dtype=torch.float32)
    return (2 * u - 1).to(device=like.device, dtype=like.dtype)


def _unit_l2_noise(shape: torch.Size, like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Points uniform in the unit L2 ball: Gaussian direction × U^(1/d) radius."""
    g = torch.randn(shape, generator=generator, dtype=torch.float32)
    d = math.prod(shape[1:])
    direction = g / g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (len(shape) - 1)))
    radius = torch.rand(shape[0], generator=generator, dtype=torch.float32) ** (1.0 / d)
    noise = direction * radius.view(-1, *([1] * (len(shape) - 1)))
    return noise.to(device=like.device, dtype=like.dtype)
