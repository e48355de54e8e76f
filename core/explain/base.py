"""Machinery shared by every gradient-based class-activation method.

:class:`BaseCAM` owns the housekeeping: one forward hook on the target layer,
the forward pass, the gradient of the target scores with respect to the
layer's activations, ReLU, bilinear upsampling to the input size and per-image
min-max normalisation.  A subclass only says how channel weights are obtained
from activations and gradients (:meth:`BaseCAM.channel_weights`).

Everything stays a torch tensor on the model's device, so the maps can enter a
loss.  With ``create_graph=True`` the gradient itself is part of the autograd
graph and a loss on the map differentiates through the channel weights
(second order); with ``create_graph=False`` the weights are constants and the
loss flows through the activations only (first order, as the MICCAI paper's
code does).
"""

from __future__ import annotations

from typing import Callable, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import ConfigError
from core.explain.explainer import Explainer

__all__ = ["BaseCAM", "Target", "TargetSpec", "resolve_target", "minmax_normalise", "normalise_cam",
           "CAM_NORMALISATIONS", "DISTRIBUTION_NORMALISATIONS"]

#: A target maps the model output for a batch to one score per image, shape (B,).
Target = Callable[[torch.Tensor], torch.Tensor]
TargetSpec = Union[Target, int, Sequence[int], torch.Tensor]

#: How :func:`normalise_cam` turns the weighted activation sum into a map.
CAM_NORMALISATIONS = ("minmax", "sum", "sigmoid", "softmax")
#: The normalisations whose maps are distributions over pixels (each map sums to 1).
DISTRIBUTION_NORMALISATIONS = ("sum", "softmax")


def minmax_normalise(maps: torch.Tensor) -> torch.Tensor:
    """Scale each map of ``maps`` (B, H, W) to [0, 1]; an all-constant map becomes 0.

    No absolute epsilon in the denominator: CAM magnitudes can be tiny (deep
    layers, distance targets), and an absolute epsilon would then shrink the
    map instead of normalising it.
    """
    flat = maps.flatten(1)
    lo = flat.amin(dim=1).view(-1, 1, 1)
    span = flat.amax(dim=1).view(-1, 1, 1) - lo
    return (maps - lo) / torch.where(span > 0, span, torch.ones_like(span))


def normalise_cam(raw: torch.Tensor, size: tuple[int, int], mode: str = "minmax") -> torch.Tensor:
    """Map (B, h, w) raw CAMs ``sum_k w_k A_k`` to (B, H, W) maps at the input ``size``.

    * ``minmax`` - ReLU, bilinear upsampling, per-image min-max to [0, 1]
      (Grad-CAM's usual display map and the MICCAI paper's loss input).  A
      uniform floor of evidence is subtracted and so invisible to a loss.
    * ``sum`` - ReLU, upsampling, division by the map's sum: a distribution
      over pixels; evidence spread evenly over the image keeps its weight.
    * ``sigmoid`` - no normalisation: upsampling, then a logistic soft mask of
      the raw (signed) map; its scale is the model's.
    * ``softmax`` - no normalisation: upsampling, then a softmax over the
      pixels of the raw map (a distribution whose sharpness is the model's).

    Differentiable; an all-zero ``minmax``/``sum`` map stays 0.
    """
    if mode not in CAM_NORMALISATIONS:
        raise ConfigError(f"unknown CAM normalisation {mode!r}; choose one of {', '.join(CAM_NORMALISATIONS)}")
    cam = F.relu(raw) if mode in ("minmax", "sum") else raw
    if cam.shape[-2:] != tuple(size):
        cam = F.interpolate(cam.unsqueeze(1), size=tuple(size), mode="bilinear", align_corners=False).squeeze(1)
    if mode == "minmax":
        return minmax_normalise(cam)
    if mode == "sum":
        total = cam.flatten(1).sum(1).view(-1, 1, 1)
        return cam / torch.where(total > 0, total, torch.ones_like(total))
    if mode == "sigmoid":
        return torch.sigmoid(cam)
    return torch.softmax(cam.flatten(1), dim=1).view_as(cam)


def resolve_target(targets: TargetSpec) -> Target:
    """Turn the shorthand class index / indices into a :class:`ClassLogitTarget`."""
    if callable(targets) and not isinstance(targets, torch.Tensor):
        return targets
    from core.explain.targets import ClassLogitTarget

    return ClassLogitTarget(targets)


class BaseCAM(Explainer):
    """Batched, tensor-native class activation maps for one target layer.

    Use as a context manager so the hook is released on exit::

        with GradCAM(model, model.cam_layer, create_graph=True) as cam:
            maps = cam(x, targets)          # (B, H, W) in [0, 1]

    The call signature and housekeeping come from
    :class:`~core.explain.explainer.Explainer`.  By default (``eval_mode=False``)
    the model's train/eval mode is left as the caller set it: training computes
    CAMs in train mode (BatchNorm then couples the images of a batch, as in the
    paper); ``eval_mode=True`` explains in eval mode and restores the previous
    mode afterwards, as evaluation and display want.

    ``normalise`` chooses how the map is normalised (:func:`normalise_cam`).

    After a call, ``outputs`` holds the model output of that forward pass (so a
    training step can reuse it for its main loss), ``activations`` the target
    layer's output (B, K, h, w) and ``gradients`` the score gradients.
    """

    name = "Grad-CAM"
    signed = False

    def __init__(self, model: nn.Module, target_layer: nn.Module, create_graph: bool = False,
                 eval_mode: bool = False, normalise: str = "minmax") -> None:
        if normalise not in CAM_NORMALISATIONS:
            raise ConfigError(f"unknown CAM normalisation {normalise!r}; choose one of {', '.join(CAM_NORMALISATIONS)}")
        if not isinstance(model, nn.Module) or not isinstance(target_layer, nn.Module):
            raise ConfigError("Grad-CAM needs a torch model and one of its layers (nn.Module)")
        super().__init__(model, eval_mode)
        if not any(m is target_layer for m in model.modules()):
            raise ConfigError("the Grad-CAM target layer is not a sub-module of the model")
        self.target_layer = target_layer
        self.create_graph = bool(create_graph)
        self.normalise = normalise
        self.outputs: torch.Tensor | None = None
        self.activations: torch.Tensor | None = None
        self.gradients: torch.Tensor | None = None
        self._captured: torch.Tensor | None = None
        self._handle = target_layer.register_forward_hook(self._capture)

    # ------------------------------------------------------------------ hooks
    def _capture(self, module: nn.Module, inputs, output):
        if not isinstance(output, torch.Tensor) or output.dim() != 4:
            raise ConfigError("the Grad-CAM target layer must output a (B, K, h, w) tensor")
        if torch.is_grad_enabled() and not output.requires_grad:
            # A frozen model with a plain input: explain from this layer on.
            output = output.detach().requires_grad_(True)
            self._captured = output
            return output
        self._captured = output
        return None

    def release(self) -> None:
        """Remove the forward hook; the object cannot be called afterwards."""
        if getattr(self, "_handle", None) is not None:
            self._handle.remove()
            self._handle = None

    # ------------------------------------------------------------ subclassing
    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        """Weights (B, K) from activations and score gradients, both (B, K, h, w)."""
        raise NotImplementedError

    # ------------------------------------------------------------------- call
    def explain(self, x: torch.Tensor, target: Target) -> torch.Tensor:
        """Class activation maps for ``x`` (B, C, H, W); called by ``cam(x, targets)``.

        Returns:
            (B, H, W) float maps in [0, 1], bilinearly upsampled to the input
            size and normalised per image by ``normalise`` (default min-max;
            :func:`normalise_cam`).  They carry an autograd graph
            (through activations; also through the weights if ``create_graph``).
        """
        if getattr(self, "_handle", None) is None:
            raise ConfigError("this Grad-CAM object was released; create a new one")
        self._captured = None
        with torch.enable_grad():
            outputs = self.model(x)
            acts = self._captured
            if acts is None:
                raise ConfigError("the Grad-CAM target layer was not used by the model's forward pass")
            scores = self.scores(outputs, target, x.shape[0])
            # Summing is exact per image as long as image i's score depends only on image i.
            (grads,) = torch.autograd.grad(scores.sum(), acts, create_graph=self.create_graph,
                                           retain_graph=True)
            if not self.create_graph:
                grads = grads.detach()
            weights = self.channel_weights(acts, grads)
            maps = normalise_cam(torch.einsum("bk,bkhw->bhw", weights, acts), x.shape[-2:], self.normalise)
        self.outputs, self.activations, self.gradients = outputs, acts, grads
        self._captured = None
        return maps
