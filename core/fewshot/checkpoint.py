"""Few-shot checkpoints: weights, model config and the prototypes' support set.

The file holds only tensors, numbers, strings, lists and dicts, so it loads
with ``torch.load(weights_only=True)``; weights load strictly.  Writes go to a
temporary file first and are renamed into place.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from core.atomic import atomic_path
from core.errors import LoadError
from core.fewshot.backbones import build_backbone
from core.fewshot.protonet import ProtoNet
from core.fewshot.symmetry_backbones import SymmetryBackbone

__all__ = ["model_config", "build_model", "save_checkpoint", "load_checkpoint", "FORMAT"]

FORMAT = "equiguard-fewshot/1"


def model_config(model: ProtoNet, in_channels: int, hidden: int, backbone: str) -> dict:
    """The JSON dict :func:`build_model` rebuilds ``model`` from (symmetry backbones add their ``image_size``)."""
    config = {"backbone": backbone, "in_channels": in_channels, "hidden": hidden,
              "embed_dim": model.head.out_features, "metric": model.metric, "normalize": model.normalize}
    if isinstance(model.backbone, SymmetryBackbone):
        config["image_size"] = int(model.backbone.image_size)
    return config


def build_model(config: dict, weights_path: str | None = None) -> ProtoNet:
    """A :class:`ProtoNet` from a :func:`model_config` dict (``image_size`` defaults to 64)."""
    backbone = build_backbone(config["backbone"], config["in_channels"], config.get("hidden", 64), weights_path,
                              image_size=int(config.get("image_size", 64)))
    return ProtoNet(backbone, config["embed_dim"], config["metric"], config["normalize"])


def save_checkpoint(path: str | Path, model: ProtoNet, config: dict, support_images: torch.Tensor,
                    support_labels: torch.Tensor, class_names: list[str], extra: dict | None = None) -> Path:
    """Write weights + config + support set (S, C, H, W) / (S,) and their prototypes (n, D)."""
    from core.fewshot.evaluate import embed
    from core.fewshot.protonet import class_prototypes

    was = model.training
    model.eval()
    protos = class_prototypes(embed(model, support_images), support_labels.long(), len(class_names))
    model.train(was)
    payload = {
        "format": FORMAT,
        "model": dict(config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "support_images": support_images.detach().cpu().float(),
        "support_labels": support_labels.detach().cpu().long(),
        "prototypes": protos.detach().cpu(),
        "class_names": list(class_names),
        "extra": dict(extra or {}),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | Path) -> tuple[ProtoNet, dict]:
    """(model in eval mode, payload) from a file written by :func:`save_checkpoint`."""
    path = Path(path)
    if not path.is_file():
        raise LoadError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a foreign or damaged file
        raise LoadError(f"{path.name} is not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise LoadError(f"{path.name} is not an EquiGuard few-shot checkpoint")
    with warnings.catch_warnings():
        # The random-init warning is moot: the saved weights are loaded next.
        warnings.simplefilter("ignore")
        model = build_model(payload["model"])
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as exc:
        raise LoadError(f"{path.name} does not match its own model config: {str(exc).splitlines()[0]}") from None
    return model.eval(), payload
