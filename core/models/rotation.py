"""Rotation-equivariant (C_N) blocks built on e2cnn, behind a plain-tensor interface.

Each :class:`EquivariantBlock` takes and returns ordinary ``torch.Tensor`` s
(so hooks, Grad-CAM and ``nn.Sequential`` work) while checking internally that
the tensor has the layout of its e2cnn ``in_type``.  A regular C_N field
occupies N consecutive channels; rotating the input by 2*pi/N rotates each
output map and cyclically shifts the N channels of every field.

Only cyclic groups are offered: e2cnn 0.2.3's flip/dihedral and continuous
groups call ``ndarray.tostring``, which numpy 2 removed.
"""

from __future__ import annotations

import copy
import warnings

import torch
from e2cnn import gspaces
from e2cnn import nn as enn
from torch import nn

from core.models.blocks import pool_params, pooled_size

__all__ = [
    "R2Conv", "GroupPooling", "EquivariantBlock", "FieldMaxPool", "rotation_gspace", "trivial_type", "regular_type",
    "rotation_conv_block", "rotation_pool", "group_pool",
]


def rotation_gspace(order: int) -> gspaces.GSpace:
    """The plane acted on by the rotations of C_order."""
    return gspaces.Rot2dOnR2(N=order)


def trivial_type(gspace: gspaces.GSpace, channels: int) -> enn.FieldType:
    """``channels`` scalar fields (e.g. image channels): rotate spatially, values unchanged."""
    return enn.FieldType(gspace, channels * [gspace.trivial_repr])


def regular_type(gspace: gspaces.GSpace, fields: int) -> enn.FieldType:
    """``fields`` regular fields: ``fields * N`` channels."""
    return enn.FieldType(gspace, fields * [gspace.regular_repr])


class R2Conv(enn.R2Conv):
    """e2cnn's R2Conv whose eval-mode filter cache is a detached, non-persistent buffer.

    Upstream caches the expanded filter with autograd history and as a
    persistent buffer, so (a) the module cannot be deep-copied in eval mode and
    (b) its state_dict keys depend on train/eval mode, which would defeat
    strict checkpoint loading.  Upstream also shares one basis-sampling module
    between every R2Conv of the process with the same field types, so
    ``.double()`` or ``.to(device)`` on one model converted every other
    model's basis too; each conv here owns its copy.
    """

    def __init__(self, *args, **kwargs) -> None:
        with warnings.catch_warnings():
            # e2cnn 0.2.3 indexes with a uint8 mask while building the basis (harmless, noisy).
            warnings.filterwarnings("ignore", message="indexing with dtype torch.uint8", category=UserWarning)
            super().__init__(*args, **kwargs)
        self._basisexpansion = copy.deepcopy(self._basisexpansion)
        # The cache is derived from the weights: never part of the state_dict.
        self._non_persistent_buffers_set.update({"filter", "expanded_bias"})

    def train(self, mode: bool = True) -> "R2Conv":
        if mode or not self.training:
            return super().train(mode)
        self._refresh_cache()
        return nn.Module.train(self, mode)

    def _refresh_cache(self) -> None:
        with torch.no_grad():
            filt, bias = self.expand_parameters()
        self.register_buffer("filter", filt, persistent=False)
        if bias is not None:
            self.register_buffer("expanded_bias", bias, persistent=False)
        else:
            self.expanded_bias = None

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        # Loading weights into an eval-mode model must not leave a stale filter cache.
        if not self.training:
            self._refresh_cache()


class GroupPooling(enn.GroupPooling):
    """e2cnn's group pooling computed in the input's dtype.

    Upstream always allocates its output as float32, so a double-precision
    model silently drops to single precision there (and gradcheck fails).
    """

    def forward(self, input: enn.GeometricTensor) -> enn.GeometricTensor:
        assert input.type == self.in_type
        x = input.tensor
        b, _, h, w = x.shape
        out = x.new_empty(self.evaluate_output_shape(x.shape))
        for size, contiguous in self._contiguous.items():
            ins, outs = getattr(self, f"in_indices_{size}"), getattr(self, f"out_indices_{size}")
            fields = x[:, ins[0]:ins[1]] if contiguous else x[:, ins]
            pooled = fields.reshape(b, -1, size, h, w).amax(dim=2)
            if contiguous:
                out[:, outs[0]:outs[1]] = pooled
            else:
                out[:, outs] = pooled
        return enn.GeometricTensor(out, self.out_type)


class EquivariantBlock(nn.Module):
    """Runs an e2cnn module on plain tensors: (B, in_type.size, H, W) -> (B, out_type.size, H', W')."""

    def __init__(self, module: enn.EquivariantModule) -> None:
        super().__init__()
        self.module = module
        self.in_type: enn.FieldType = module.in_type
        self.out_type: enn.FieldType = module.out_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(enn.GeometricTensor(x, self.in_type)).tensor

    def export(self) -> nn.Module:
        """The e2cnn export (plain Conv2d/BatchNorm2d/...), in eval mode, without e2cnn classes."""
        self.module.eval()
        return _replace_channel_pools(self.module.export().eval())


class FieldMaxPool(nn.Module):
    """Max over each run of ``group_size`` consecutive channels: (B, F * N, H, W) -> (B, F, H, W)."""

    def __init__(self, group_size: int) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        return x.view(b, c // self.group_size, self.group_size, h, w).amax(dim=2)


def _replace_channel_pools(module: nn.Module) -> nn.Module:
    """Swap e2cnn's exported group pooling (MaxPoolChannels) for :class:`FieldMaxPool`."""
    from e2cnn.nn.modules.invariantmaps.gpool import MaxPoolChannels

    if isinstance(module, MaxPoolChannels):
        return FieldMaxPool(module.kernel_size)
    for name, child in list(module.named_children()):
        setattr(module, name, _replace_channel_pools(child))
    return module


def rotation_conv_block(in_type: enn.FieldType, fields: int, kernel_size: int = 3) -> list[enn.EquivariantModule]:
    """R2Conv(in_type -> ``fields`` regular fields) + InnerBatchNorm + ReLU.

    InnerBatchNorm shares one mean/variance across the N channels of a field,
    which is what keeps batch norm equivariant.
    """
    out_type = regular_type(in_type.gspace, fields)
    return [
        R2Conv(in_type, out_type, kernel_size, padding=kernel_size // 2, bias=False),
        enn.InnerBatchNorm(out_type),
        enn.ReLU(out_type, inplace=True),
    ]


def rotation_pool(field_type: enn.FieldType, size: int) -> tuple[enn.EquivariantModule, int]:
    """A 2x pointwise max-pool whose window layout is symmetric on a ``size`` grid, and the new size."""
    kernel, stride, padding = pool_params(size)
    return enn.PointwiseMaxPool(field_type, kernel, stride, padding), pooled_size(size)


def group_pool(field_type: enn.FieldType) -> enn.EquivariantModule:
    """Max over the N channels of every regular field: rotation-invariant values per pixel."""
    return GroupPooling(field_type)
