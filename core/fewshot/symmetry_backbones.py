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
from core.models import ModelConfig, SymmetryAwareCNN, build_model, export_module, pool_params
from core.models.blocks import pooled_size

__all__ = ["SymmetryBackbone", "backbone_model_config", "pool_plan", "measure_backbone_equivariance"]

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
                 rotation_order: int = 4, *, classifier: SymmetryAwareCNN | None = None) -> None:
        super().__init__()
        model = classifier if classifier is not None else build_model(
            backbone_model_config(name, in_channels, hidden, image_size, rotation_order))
        config = model.config
        self.name, self.config = name, config
        self.in_channels, self.hidden, self.image_size = config.in_channels, config.widths[0], config.image_size
        self.normalize = model.normalize
        self.features = model.features
        self.out_features = model.head.fc.in_features
        # Looked up by name so the layer survives export().
        self._cam_layer_name = next(n for n, m in model.named_modules() if m is model.cam_layer)
        self._plan = pool_plan(config.image_size, len(config.pool_after))
        self.exported = False

    @classmethod
    def from_classifier(cls, model: SymmetryAwareCNN) -> "SymmetryBackbone":
        """The features of an existing ``core.models`` classifier (any architecture, e.g. a benchmark twin)."""
        return cls(model.config.arch, classifier=model)

    @property
    def cam_layer(self) -> nn.Module:
        return self.get_submodule(self._cam_layer_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ConfigError(f"the {self.name} backbone expects (B, {self.in_channels}, H, W) images, "
                              f"got {tuple(x.shape)}")
        for side in x.shape[-2:]:
            if pool_plan(int(side), len(self._plan)) != self._plan:
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


def measure_backbone_equivariance(seed: int = 0, hidden: int = 16) -> dict[str, float]:
    """Relative L2 errors of fresh backbones (BatchNorm statistics from phantom batches, eval mode).

    Keys: ``<backbone>_embedding_rot90_<C>x<S>`` (max over 90/180/270 degrees
    of ||f(g x) - f(x)|| / ||f(x)|| for the ProtoNet embedding of phantom
    images: CXR for C = 1, brain for C = 3; ``equivariant`` also ``..._exported``;
    ``..._vs_spread``: the mean displacement divided by the mean distance
    between the embeddings of different images instead), ``parallel_rot_branch`` (the stem's rotation branch,
    fields transformed as e2cnn says), ``cascaded_stage`` (stage output vs the
    rotated output), ``parallel_scale_branch`` / ``plain_branch_scale`` (the
    scale branch before its max over scales vs the plain conv branch, input
    down-scaled by sqrt 2; see :func:`core.models.scale_equivariance_error`).
    """
    from e2cnn import nn as enn

    from core.fewshot.backbones import build_backbone
    from core.fewshot.datasets import brain_phantom, cxr_phantom
    from core.fewshot.protonet import ProtoNet
    from core.models import relative_error, scale_equivariance_error, smooth_test_images

    out: dict[str, float] = {}

    def phantoms(channels: int, size: int) -> torch.Tensor:
        make = cxr_phantom if channels == 1 else brain_phantom
        return make(6, 2, size, seed=seed).images

    def fresh(name: str, channels: int, size: int) -> ProtoNet:
        torch.manual_seed(seed)
        net = ProtoNet(build_backbone(name, channels, hidden, image_size=size), 16).train()
        with torch.no_grad():
            net(phantoms(channels, size))
        return net.eval()

    with torch.no_grad():
        for channels, size in ((1, 64), (3, 128)):
            x = phantoms(channels, size)[::3]
            for name in ("conv4", *SYMMETRY_BACKBONES):
                net = fresh(name, channels, size)
                nets = {"": net, "_exported": net.export()} if name == "equivariant" else {"": net}
                for suffix, model in nets.items():
                    ref = model(x)
                    moved = [model(torch.rot90(x, k, (2, 3))) for k in (1, 2, 3)]
                    key = f"{name}_embedding_rot90_{channels}x{size}{suffix}"
                    out[key] = max(relative_error(m, ref) for m in moved)
                    # The same displacement against how far apart different images' embeddings are.
                    spread = torch.cdist(ref, ref).sum() / (len(ref) * (len(ref) - 1))
                    out[key + "_vs_spread"] = max(float((m - ref).norm(dim=1).mean() / spread) for m in moved)
        x = phantoms(3, 64)[::3]
        branch = fresh("parallel_rot", 3, 64).backbone.features.stem.branches["rotation"]
        y = branch(x)
        out["parallel_rot_branch"] = max(
            relative_error(branch(enn.GeometricTensor(x, branch.in_type).transform(g).tensor),
                           enn.GeometricTensor(y, branch.out_type).transform(g).tensor)
            for g in branch.in_type.gspace.testing_elements)
        stage = fresh("cascaded", 3, 64).backbone.features.stage
        y = stage(x)
        out["cascaded_stage"] = max(relative_error(stage(torch.rot90(x, k, (2, 3))), torch.rot90(y, k, (2, 3)))
                                    for k in (1, 2, 3))
        backbone = fresh("parallel_scale", 1, 64).backbone
        stem = backbone.features.stem
        images = smooth_test_images(4, 1, 96, seed=seed + 1)
        step = backbone.config.scale_step
        out["parallel_scale_branch"] = scale_equivariance_error(nn.Sequential(*list(stem.branches["scale"])[:-1]),
                                                                images, step)
        out["plain_branch_scale"] = scale_equivariance_error(stem.branches["standard"], images, step, shift=0)
    return out
