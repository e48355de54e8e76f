"""Feature extractors for prototypical networks; every one exposes ``cam_layer``.

* ``conv4`` - Snell et al.'s four conv-BN-ReLU-pool blocks (CPU default).
* ``resnet18`` / ``densenet121`` - torchvision architectures built with
  ``weights=None``.  Pretrained weights come ONLY from a local file the user
  names (strict state-dict load); nothing is ever downloaded.
* ``parallel_rot``, ``parallel_scale``, ``parallel_rot_scale``, ``cascaded``,
  ``equivariant`` - the symmetry-aware classifiers' feature extractors laid
  out like Conv4 (:mod:`core.fewshot.symmetry_backbones`, which says exactly
  what each is equivariant to).

``cam_layer`` is the last spatial activation before global pooling (for
DenseNet-121 the paper's ``features.denseblock4.denselayer16.conv2``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from core.errors import ConfigError, LoadError

__all__ = ["BACKBONES", "SYMMETRY_BACKBONES", "Backbone", "Conv4", "TorchvisionBackbone", "build_backbone"]

#: Symmetry-aware embedding networks (built in :mod:`core.fewshot.symmetry_backbones`).
SYMMETRY_BACKBONES: tuple[str, ...] = ("parallel_rot", "parallel_scale", "parallel_rot_scale", "cascaded",
                                       "equivariant")
BACKBONES: tuple[str, ...] = ("conv4", "resnet18", "densenet121", *SYMMETRY_BACKBONES)


class Backbone(nn.Module):
    """(B, C, H, W) -> (B, out_features, h, w) feature maps; ``cam_layer`` is a sub-module."""

    out_features: int
    cam_layer: nn.Module


def _block(cin: int, cout: int, pool: bool) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class Conv4(Backbone):
    """Four 3x3 conv blocks of width ``hidden``; pools after the first three.

    The last block is not pooled so Grad-CAM keeps a 1/8-resolution map
    (8x8 for a 64x64 input).
    """

    def __init__(self, in_channels: int = 3, hidden: int = 64) -> None:
        super().__init__()
        self.features = nn.Sequential(_block(in_channels, hidden, True), _block(hidden, hidden, True),
                                      _block(hidden, hidden, True), _block(hidden, hidden, False))
        self.out_features = hidden
        self.cam_layer = self.features[3][2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class TorchvisionBackbone(Backbone):
    """A torchvision ResNet-18 or DenseNet-121 trunk (no classifier), random init."""

    def __init__(self, name: str, in_channels: int = 3) -> None:
        super().__init__()
        import torchvision

        if name == "resnet18":
            net = torchvision.models.resnet18(weights=None)
            self.trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool,
                                       net.layer1, net.layer2, net.layer3, net.layer4)
            self.out_features = 512
            self.cam_layer = net.layer4[-1]
            self._tail = nn.Identity()
        elif name == "densenet121":
            net = torchvision.models.densenet121(weights=None)
            self.trunk = net.features
            self.out_features = 1024
            self.cam_layer = net.features.denseblock4.denselayer16.conv2
            # torchvision applies this ReLU in DenseNet.forward, outside ``features``.
            self._tail = nn.ReLU()
        else:
            raise ConfigError(f"unknown torchvision backbone {name!r}")
        self.name = name
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Grey-level inputs reuse the RGB stem (and any RGB weights) by repetition.
        if x.shape[1] != 3:
            if x.shape[1] != 1:
                raise ConfigError(f"{self.name} takes 1- or 3-channel images, got {x.shape[1]}")
            x = x.expand(-1, 3, -1, -1)
        return self._tail(self.trunk(x))


def build_backbone(name: str, in_channels: int = 3, hidden: int = 64,
                   weights_path: str | Path | None = None, image_size: int = 64) -> Backbone:
    """Build a backbone; load ``weights_path`` (a local state dict of the torchvision
    model or of this backbone) strictly if given, else warn that torchvision weights are random.

    ``hidden`` is the width of conv4 and the base width of the symmetry
    backbones, whose pools are laid out for ``image_size`` (ignored by the others).
    """
    if name not in BACKBONES:
        raise ConfigError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    own = name == "conv4" or name in SYMMETRY_BACKBONES  # state-dict keys are this module's own
    if name in SYMMETRY_BACKBONES:
        from core.fewshot.symmetry_backbones import SymmetryBackbone

        model: Backbone = SymmetryBackbone(name, in_channels, hidden, image_size)
    else:
        model = Conv4(in_channels, hidden) if name == "conv4" else TorchvisionBackbone(name, in_channels)
    if weights_path is None:
        if not own:
            warnings.warn(f"{name} starts from random weights (pass a local weights file to use pretrained ones; "
                          "nothing is downloaded)", stacklevel=2)
        return model
    path = Path(weights_path)
    if not path.is_file():
        raise LoadError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a non-checkpoint file
        raise LoadError(f"{path.name} is not a readable torch state dict ({type(exc).__name__})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    target = model if own else _torchvision_view(model)
    if not own:
        # A full torchvision checkpoint also holds the classifier we drop.
        state = {k: v for k, v in state.items() if not k.startswith(("fc.", "classifier."))}
    try:
        target.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise LoadError(f"{path.name} does not match the {name} architecture: {first}") from None
    return model


def _torchvision_view(model: TorchvisionBackbone) -> nn.Module:
    """A module whose state-dict keys match torchvision's own naming."""
    if model.name == "densenet121":
        view = nn.Module()
        view.features = model.trunk
        return view
    view = nn.Module()
    for name, module in zip(("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"), model.trunk):
        setattr(view, name, module)
    return view
