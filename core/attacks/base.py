"""The :class:`Attack` base class: everything an attack needs except its update rule.

Subclasses implement :meth:`Attack._perturb` on a :class:`~core.attacks.batch.FlatBatch`
in which every sample carries its own ε.  The base class owns the housekeeping:

* eval mode during the attack (BatchNorm statistics and dropout frozen), with
  every submodule's previous ``training`` flag restored afterwards, also when
  the attack raises;
* parameters temporarily frozen (``requires_grad=False``) so no gradient is
  accumulated into, or even computed for, the weights;
* the device taken from the model's parameters;
* validation of images (``(B, C, H, W)`` in ``[0, 1]``), labels, ε and ROI, and
  of the model's output on the clean images (labels beyond its classes, too few
  classes for the loss, probabilities instead of logits: see :mod:`core.attacks.checks`);
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

from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.attacks.batch import FlatBatch
from core.attacks.checks import check_logits_and_labels
from core.attacks.fusion import fold_batchnorm
from core.attacks.inputs import ROI_MODES, as_eps_tensor, check_eps_range, prepare_roi, validate_images_labels
from core.attacks.modes import eval_mode, frozen_eval
from core.errors import ConfigError

__all__ = ["Attack", "LossFn", "ROI_MODES", "frozen_eval", "eval_mode", "as_eps_tensor", "prepare_roi",
           "check_eps_range"]

LossFn = Callable[[Tensor, Tensor], Tensor]
"""``loss(logits (N, K), labels (N,)) -> (N,)`` per-sample loss to maximise."""


def _per_sample_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    return F.cross_entropy(logits, labels, reduction="none")


class Attack(ABC):
    """Base class of every attack; call it like a function.

    ``attack(images (B, C, H, W), labels (B,))`` returns adversarial images of
    shape ``(B, C, H, W)`` for a single ε, or ``(E, B, C, H, W)`` when ε is a
    sequence of E values; :meth:`perturb_each` gives every image its own ε.
    With ``targeted=True`` the labels are the target classes and the attack
    minimises their loss.

    Before attacking, one clean forward pass checks the model's output: labels
    beyond its classes and too few classes for the attack's loss raise
    :class:`ConfigError`; probability-like outputs warn
    (:class:`~core.attacks.checks.ProbabilityOutputWarning`).

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
    #: short name used in reports (e.g. which attack of an ensemble broke an image)
    name: str = "attack"

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

    # -- public entry points --------------------------------------------------

    def __call__(self, images: Tensor, labels: Tensor, *, eps: float | Sequence[float] | None = None,
                 roi: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Adversarial images ``(B, C, H, W)``, or ``(E, B, C, H, W)`` for several ε.

        Args:
            images: ``(B, C, H, W)`` float pixels in ``[0, 1]``.
            labels: ``(B,)`` true classes (untargeted) or target classes (targeted).
            eps: overrides the ε given at construction.
            roi: optional ROI mask, see :func:`prepare_roi`.
            generator: seeds the random draws; they are made per image and shared
                by every ε value (see :mod:`core.attacks.batch`), which makes the
                batched call equal a loop of seeded single-ε calls and lowers the
                variance of robustness curves.
        """
        eps_values, batched = as_eps_tensor(self.eps if eps is None else eps)
        with self.session(images, labels, eps_values, roi=roi, generator=generator) as batch:
            adv = self._perturb(batch)
        adv = self._project(adv.detach(), batch.x, batch.eps, batch.mask).reshape(-1, *images.shape)
        return adv if batched else adv[0]

    def perturb_each(self, images: Tensor, labels: Tensor, eps: Tensor | Sequence[float], *,
                     roi: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Adversarial images ``(B, C, H, W)`` where image ``i`` gets its own radius ``eps[i]`` (``(B,)``)."""
        values, _ = as_eps_tensor(eps)
        if values.numel() != images.shape[0]:
            raise ConfigError(f"perturb_each needs one eps per image ({images.shape[0]}), got {values.numel()}")
        with self.session(images, labels, values, roi=roi, generator=generator, per_image=True) as batch:
            adv = self._perturb(batch)
        return self._project(adv.detach(), batch.x, batch.eps, batch.mask)

    @contextmanager
    def session(self, images: Tensor, labels: Tensor, eps: Tensor, *, roi: Tensor | None = None,
                generator: torch.Generator | None = None, per_image: bool = False) -> Iterator[FlatBatch]:
        """The housekeeping around an attack: yields the validated :class:`FlatBatch`.

        Inside, the model is in eval mode with frozen parameters (BatchNorm folded
        when ``fuse_bn``) and ``self._net`` is the network to query; everything is
        restored on exit, also on error.  ``eps (E,)`` becomes the ε-major batched
        axis, or with ``per_image=True`` one radius per image.
        """
        device = self._device()
        images, labels = validate_images_labels(images, labels, device)
        check_eps_range(eps, self.norm, images.shape[1:])
        allowed = prepare_roi(roi, images, self.roi_mode)
        b = images.shape[0]
        n_eps = 1 if per_image else eps.numel()
        flat_eps = eps.to(device=device, dtype=images.dtype)
        flat_eps = flat_eps if per_image else flat_eps.repeat_interleave(b)
        with frozen_eval(self.model):
            self._net = fold_batchnorm(self.model) if self.fuse_bn else self.model
            try:
                clean_logits = self._logits(images)
                n_classes = check_logits_and_labels(clean_logits, labels,
                                                    what="target labels" if self.targeted else "labels")
                self._check_classes(n_classes)
                yield FlatBatch(images.repeat(n_eps, 1, 1, 1), labels.repeat(n_eps), flat_eps,
                                None if allowed is None else allowed.repeat(n_eps, 1, 1, 1),
                                torch.arange(b, device=device).repeat(n_eps), b, clean_logits.repeat(n_eps, 1),
                                generator)
            finally:
                self._net = self.model

    # -- hooks and helpers for subclasses -------------------------------------

    @abstractmethod
    def _perturb(self, batch: FlatBatch) -> Tensor:
        """Return adversarial images ``(N, C, H, W)`` for the flat ``batch``.

        The base class projects the result once more onto the ε-ball ∩ ``[0, 1]``
        (and the mask), so subclasses may return any tensor close to the ball.
        """

    def _check_classes(self, n_classes: int) -> None:
        """Raise :class:`ConfigError` if the attack is undefined for ``n_classes`` (override)."""

    def _objective(self, logits: Tensor, y: Tensor) -> Tensor:
        """Per-sample value ``(N,)`` to maximise: the loss, or minus it when targeted."""
        loss = self.loss_fn(logits, y)
        return -loss if self.targeted else loss

    def _value_and_grad(self, x: Tensor, objective: Callable[[Tensor, slice], Tensor]
                        ) -> tuple[Tensor, Tensor, Tensor]:
        """``(∇_x objective (N, C, H, W), objective (N,), logits (N, K))``, no parameter grads.

        ``objective(logits, rows)`` returns the per-sample values of the chunk
        ``rows`` of ``x``.  It is summed, not averaged, so the gradient of one
        sample does not depend on how many others share its batch.
        """
        grads, values, logits_out = [], [], []
        # Chunks of max_batch samples: on CPU a few small passes beat one pass over E·B
        # images (the activations stay in cache), and eval mode makes samples independent.
        for start in range(0, x.shape[0], self.max_batch):
            rows = slice(start, start + self.max_batch)
            xs = x[rows].detach().requires_grad_(True)
            logits = self._net(xs)
            value = objective(logits, rows)
            (grad,) = torch.autograd.grad(value.sum(), xs)
            grads.append(grad)
            values.append(value.detach())
            logits_out.append(logits.detach())
        return torch.cat(grads), torch.cat(values), torch.cat(logits_out)

    def _gradient(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """``(∇_x objective (N, C, H, W), objective (N,))`` of :meth:`_objective`."""
        grad, value, _ = self._value_and_grad(x, lambda logits, rows: self._objective(logits, y[rows]))
        return grad, value

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

    def __repr__(self) -> str:
        eps = self.eps if isinstance(self.eps, (int, float)) else list(self.eps)
        return f"{type(self).__name__}(eps={eps}, norm={self.norm}, targeted={self.targeted})"
