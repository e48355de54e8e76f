"""Symmetry-aware embedding networks for prototypical networks, built from ``core.models``.

A :class:`SymmetryBackbone` named after one of the classifier architectures is
that classifier's ``normalize`` + ``features`` (``core.models.build_model``),
without its classifier head, laid out like Snell et al.'s Conv4: four stages
of base width ``hidden``, 2x max-pools after the first three, so a 64x64 input
gives an 8x8 map (16x16 at 128x128).  Nothing is re-implemented here; the
stems, stages, pools and field types are the classifiers' own blocks.

What is equivariant, exactly (C4, 90 degree rotations, square inputs):

* ``equivariant`` - every layer is an R2Conv between regular C4 fields
  (``hidden / 2`` fields, i.e. ``2 * hidden`` channels) + InnerBatchNorm +
  ReLU, pools laid out symmetrically on the grid, then group pooling.  The
  backbone's output maps rotate with the input (channels unchanged), so
  :class:`core.fewshot.ProtoNet`'s spatial mean and head give an embedding
  that is **invariant** to 90 degree rotations (tested to 1e-5, also exported).
* ``cascaded`` - the typed equivariant stage (``core.models.cascaded_stage``:
  lift, symmetric pool, regular->regular, group pooling) is equivariant: its
  output rotates with the input.  The plain trunk after it is not.
* ``parallel_rot`` / ``parallel_scale`` / ``parallel_rot_scale`` - only the
  stem's branches are: the rotation branch's regular fields rotate and
  cyclically shift exactly; the scale branch is scale-equivariant (shared
  Hermite-Gaussian coefficients) up to discretisation before its max over
  scales.  The 1x1 fusion and the trunk are ordinary layers.

Pools are planned for ``image_size`` (centre-symmetric windows at every
level, see ``core.models.blocks``); any input whose pooling levels have the
same parity works, e.g. every multiple of 8 for the default 64.  Other sizes
raise a :class:`ConfigError` rather than silently losing exactness.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from core.errors import ConfigError
from core.fewshot.backbones import SYMMETRY_BACKBONES, Backbone
from core.models import ModelConfig, build_model, export_module, pool_params
from core.models.blocks import pooled_size

__all__ = ["SymmetryBackbone", "backbone_model_config", "pool_plan"]

#: Conv4's layout: four stages, pools after the first three.
_STAGES = 4
_POOL_AFTER = (0, 1, 2)


def pool_plan(size: int, pools: int = len(_POOL_AFTER)) -> tuple[tuple[int, int, int], ...]:
    """(kernel, stride, padding) of each of the ``pools`` centre-symmetric pools on a ``size`` grid."""
    plan = []
    for _ in range(pools):
        plan.append(pool_params(size))
        size = pooled_size(size)
    return tuple(plan)


def backbone_model_config(name: str, in_channels: int = 3, hidden: int = 64, image_size: int = 64,
                          rotation_order: int = 4) -> ModelConfig:
    """The :class:`ModelConfig` whose ``features`` are backbone ``name`` (the head is unused)."""
    if name not in SYMMETRY_BACKBONES:
        raise ConfigError(f"unknown symmetry backbone {name!r}; choose one of {', '.join(SYMMETRY_BACKBONES)}")
    if hidden < 2:
        raise ConfigError("the backbone width (hidden) must be at least 2")
    return ModelConfig(arch=name, preset="tiny", in_channels=in_channels, num_classes=2, image_size=image_size,
                       rotation_order=rotation_order, mean=(0.5,) * in_channels, std=(0.5,) * in_channels,
                       widths=(hidden,) * _STAGES, pool_after=_POOL_AFTER)


class SymmetryBackbone(Backbone):
    """(B, C, H, W) pixels in [0, 1] -> (B, out_features, H/8, W/8) feature maps.

    Args:
        name: one of :data:`SYMMETRY_BACKBONES` (see the module docstring for
            what each one is equivariant to).
        in_channels: 1 or 3 (any positive number works).
        hidden: base width; rotation layers use ``hidden / sqrt(N)`` regular
            fields (e2cnn's parameter-matching convention).
        image_size: the side the pools are planned for.
        rotation_order: N of C_N (4 by default: exact for 90 degrees).

    ``cam_layer`` is the classifier's Grad-CAM layer (the last spatial block);
    :meth:`export` gives a plain-PyTorch eval copy with the same outputs.
    """

    def __init__(self, name: str, in_channels: int = 3, hidden: int = 64, image_size: int = 64,
                 rotation_order: int = 4) -> None:
        super().__init__()
        config = backbone_model_config(name, in_channels, hidden, image_size, rotation_order)
        model = build_model(config)
        self.name, self.config = name, config
        self.in_channels, self.hidden, self.image_size = in_channels, hidden, image_size
        self.normalize = model.normalize
        self.features = model.features
        self.out_features = model.head.fc.in_features
        # Looked up by name so the layer survives export().
        self._cam_layer_name = next(n for n, m in model.named_modules() if m is model.cam_layer)
        self._plan = pool_plan(image_size)
        self.exported = False

    @property
    def cam_layer(self) -> nn.Module:
        return self.get_submodule(self._cam_layer_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ConfigError(f"the {self.name} backbone expects (B, {self.in_channels}, H, W) images, "
                              f"got {tuple(x.shape)}")
        for side in x.shape[-2:]:
            if pool_plan(int(side)) != self._plan:
                raise ConfigError(f"the {self.name} backbone was built for {self.image_size}x{self.image_size} "
                                  f"images; {x.shape[-2]}x{x.shape[-1]} pools differently (use a side with the "
                                  f"same parity at every level, e.g. a multiple of 8, or rebuild it for this size)")
        return self.features(self.normalize(x))

    def export(self) -> "SymmetryBackbone":
        """An eval-mode copy made of plain PyTorch modules only (e2cnn and scale convs expanded)."""
        clone = copy.deepcopy(self).eval()
        export_module(clone)
        clone.exported = True
        return clone.eval()
