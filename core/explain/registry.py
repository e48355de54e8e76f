"""Explainers by name, for reports, sanity checks and the command line.

``build_explainer("occlusion", model, patch=8)`` gives a ready explainer in
eval mode; :func:`explainer_factory` gives a ``model -> explainer`` callable, so
the same explainer can be rebuilt on a randomised copy of the model (the layer
of a CAM is then looked up by name in the copy).
"""

from __future__ import annotations

import inspect
from typing import Callable

from torch import nn

from core.errors import ConfigError
from core.explain.explainer import Explainer

__all__ = ["EXPLAINERS", "INDEPENDENT_EXPLAINERS", "build_explainer", "explainer_factory", "ExplainerFactory"]

#: Every explainer, by name.
EXPLAINERS = ("gradcam", "gradcam++", "occlusion", "integrated_gradients")
#: Explainers no training loss in this project ever sees (Grad-CAM is the one guidance trains).
INDEPENDENT_EXPLAINERS = ("occlusion", "integrated_gradients")

ExplainerFactory = Callable[[nn.Module], Explainer]


def _layer(model: nn.Module, layer: str | None) -> nn.Module:
    if layer is None:
        found = getattr(model, "cam_layer", None)
        if not isinstance(found, nn.Module):
            raise ConfigError("the model has no cam_layer; name the Grad-CAM layer (e.g. 'features.3')")
        return found
    try:
        return model.get_submodule(layer)
    except AttributeError:
        raise ConfigError(f"the model has no layer named {layer!r}") from None


def build_explainer(name: str, model: nn.Module, layer: str | None = None, **options) -> Explainer:
    """An explainer of ``model`` that runs in eval mode.

    Args:
        name: one of :data:`EXPLAINERS`.
        model: the network.
        layer: CAMs only: dotted name of the target layer (default ``model.cam_layer``).
        options: keyword options of the explainer's class (``patch``, ``stride``,
            ``baseline`` for occlusion; ``steps``, ``baseline``, ``method`` for
            Integrated Gradients).
    """
    if name in ("gradcam", "gradcam++"):
        from core.explain.gradcam import GradCAM
        from core.explain.gradcam_pp import GradCAMPlusPlus

        cls = GradCAM if name == "gradcam" else GradCAMPlusPlus
        if options:
            raise ConfigError(f"{name} takes no options besides the layer, got {', '.join(sorted(options))}")
        return cls(model, _layer(model, layer), eval_mode=True)
    if layer is not None:
        raise ConfigError(f"{name} works on the input; it takes no layer")
    if name == "occlusion":
        from core.explain.occlusion import Occlusion as cls
    elif name == "integrated_gradients":
        from core.explain.integrated_gradients import IntegratedGradients as cls
    else:
        raise ConfigError(f"unknown explainer {name!r}; choose one of {', '.join(EXPLAINERS)}")
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self", "model", "eval_mode"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(f"{name} has no option {unknown[0]!r}; its options are {', '.join(sorted(allowed))}")
    return cls(model, **options)


def explainer_factory(name: str, layer: str | None = None, **options) -> ExplainerFactory:
    """``model -> build_explainer(name, model, layer, **options)``; checks the name now."""
    if name not in EXPLAINERS:
        raise ConfigError(f"unknown explainer {name!r}; choose one of {', '.join(EXPLAINERS)}")
    return lambda model: build_explainer(name, model, layer, **options)
