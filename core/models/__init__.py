"""Symmetry-aware CNNs: rotation (e2cnn, C_N) and scale (our SESN-style) equivariant layers.

Architectures (``ARCHITECTURES``), each built by :func:`build_model` from a
:class:`ModelConfig`; every model maps pixels (B, C, H, W) in [0, 1] to logits
(B, num_classes), normalises inside, exposes ``.config``, ``.cam_layer`` and
``.export()`` (plain PyTorch, eval mode, same outputs).
"""

from core.models.base import Exportable, SymmetryAwareCNN, export_module
from core.models.baseline import BaselineCNN
from core.models.blocks import ClassifierHead, ConvBlock, Normalize, PlainTrunk, make_pool, pool_params
from core.models.cascaded import CascadedCNN, cascaded_stage
from core.models.config import ARCHITECTURES, PRESETS, ModelConfig, Preset
from core.models.equivariant import EquivariantCNN
from core.models.equivariance import (downscale, relative_error, rotation_equivariance_error,
                                      measure_equivariance, scale_equivariance_error, smooth_test_images)
from core.models.factory import MODEL_CLASSES, build_model
from core.models.parallel import ParallelCNN, ParallelStem, ScaleBranch, rotation_branch
from core.models.rotation import (EquivariantBlock, FieldMaxPool, GroupPooling, group_pool, regular_type,
                                  rotation_conv_block,
                                  rotation_gspace, rotation_pool, trivial_type)
from core.models.scale import (FrozenScaleConv, ScaleBatchNorm, ScaleConv, ScaleLift, ScaleMaxPool,
                               hermite_gaussian_basis, scale_sigmas)

__all__ = [
    "ARCHITECTURES", "PRESETS", "ModelConfig", "Preset", "build_model", "MODEL_CLASSES",
    "SymmetryAwareCNN", "Exportable", "export_module",
    "BaselineCNN", "ParallelCNN", "CascadedCNN", "EquivariantCNN",
    "ParallelStem", "ScaleBranch", "rotation_branch", "cascaded_stage",
    "Normalize", "ConvBlock", "PlainTrunk", "ClassifierHead", "make_pool", "pool_params",
    "EquivariantBlock", "FieldMaxPool", "GroupPooling", "rotation_gspace", "trivial_type", "regular_type",
    "rotation_conv_block",
    "rotation_pool", "group_pool",
    "ScaleLift", "ScaleConv", "ScaleBatchNorm", "ScaleMaxPool", "FrozenScaleConv",
    "hermite_gaussian_basis", "scale_sigmas",
    "relative_error", "rotation_equivariance_error", "scale_equivariance_error", "downscale", "smooth_test_images",
    "measure_equivariance",
]
