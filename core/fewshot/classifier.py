"""A few-shot checkpoint as an ordinary classifier, for attacks and Grad-CAM.

:class:`PrototypeClassifier` maps pixels (B, C, H, W) in [0, 1] to logits
(B, n) = -distance to the prototypes of the checkpoint's stored support set.
The prototypes are computed once, in eval mode, and kept as a constant buffer,
so an attack differentiates only through the query embedding, exactly like a
classifier with a fixed last layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from core.errors import ConfigError, LoadError
from core.fewshot.evaluate import embed
from core.fewshot.protonet import ProtoNet, class_prototypes

__all__ = ["PrototypeClassifier", "load_fewshot_classifier"]


class PrototypeClassifier(nn.Module):
    """Pixels (B, C, H, W) in [0, 1] -> logits (B, n_classes) = -distance to fixed prototypes.

    Attributes:
        net: the prototypical network (its embedding, ``cam_layer``, ``metric``).
        prototypes: (n_classes, D) buffer, one row per entry of ``class_names``.
        class_names: the class of each logit.
        in_channels, image_size: the input the support set had (C, and H = W).
    """

    def __init__(self, net: ProtoNet, prototypes: torch.Tensor, class_names: Sequence[str], in_channels: int,
                 image_size: int) -> None:
        super().__init__()
        if prototypes.dim() != 2 or prototypes.shape[0] != len(class_names) or len(class_names) < 2:
            raise ConfigError(f"need one prototype row per class (at least 2), got {tuple(prototypes.shape)} "
                              f"for {len(class_names)} class names")
        self.net = net
        self.register_buffer("prototypes", prototypes.detach().clone())
        self.class_names = list(class_names)
        self.in_channels, self.image_size = int(in_channels), int(image_size)
        self.exported = False

    @classmethod
    def from_support(cls, net: ProtoNet, support_images: torch.Tensor, support_labels: torch.Tensor,
                     class_names: Sequence[str]) -> "PrototypeClassifier":
        """Prototypes of ``support_images`` (S, C, H, W) with labels (S,) indexing ``class_names``.

        Classes without a support image are left out (their names too).
        """
        if support_images.dim() != 4 or len(support_images) == 0 or support_labels.shape != (len(support_images),):
            raise ConfigError("a support set is (S, C, H, W) images with S labels, S >= 1")
        present = sorted(set(support_labels.long().tolist()))
        if present[0] < 0 or present[-1] >= len(class_names):
            raise ConfigError("a support label is outside the list of class names")
        remap = torch.full((len(class_names),), -1, dtype=torch.long)
        remap[present] = torch.arange(len(present))
        was = net.training
        net.eval()
        try:
            protos = class_prototypes(embed(net, support_images.float()), remap[support_labels.long()], len(present))
        finally:
            net.train(was)
        return cls(net, protos, [class_names[i] for i in present], support_images.shape[1], support_images.shape[-1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def metric(self) -> str:
        return self.net.metric

    @property
    def cam_layer(self) -> nn.Module:
        """The backbone's Grad-CAM layer."""
        return self.net.cam_layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ConfigError(f"this few-shot model expects (B, {self.in_channels}, H, W) images, "
                              f"got {tuple(x.shape)}")
        return self.net.logits(self.net(x), self.prototypes)

    def export(self) -> "PrototypeClassifier":
        """An eval-mode copy over :meth:`ProtoNet.export` (plain PyTorch), same prototypes."""
        clone = PrototypeClassifier(self.net.export(), self.prototypes, self.class_names, self.in_channels,
                                    self.image_size)
        clone.exported = True
        return clone.eval()


def load_fewshot_classifier(path: str | Path) -> tuple[PrototypeClassifier, dict]:
    """(classifier in eval mode, checkpoint payload) from a ``fewshot`` checkpoint.

    Raises:
        LoadError: unreadable file, or a checkpoint without a support set (it
            cannot classify on its own), or stored prototypes that do not match
            its own support set and weights.
    """
    from core.fewshot.checkpoint import load_checkpoint

    path = Path(path)
    net, payload = load_checkpoint(path)
    images, labels = payload.get("support_images"), payload.get("support_labels")
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor) or images.numel() == 0:
        raise LoadError(f"{path.name} is a few-shot checkpoint without a support set, so it cannot classify on "
                        "its own; train it again with 'python -m core fewshot', which stores one")
    try:
        model = PrototypeClassifier.from_support(net, images, labels, payload.get("class_names") or [])
    except ConfigError as exc:
        raise LoadError(f"{path.name}: unusable support set: {exc}") from None
    stored = payload.get("prototypes")
    if isinstance(stored, torch.Tensor) and stored.shape[0] == len(payload.get("class_names") or []) \
            and stored.shape[0] == model.num_classes:
        if not torch.allclose(stored.float(), model.prototypes, rtol=1e-4, atol=1e-4):
            raise LoadError(f"{path.name}: the stored prototypes do not match its support set and weights")
    return model.eval(), payload
