"""The attack lab's computation: one image, one model, one attack, everything the page shows.

Kept out of the page so it can be timed, tested and reused; the page only
draws the arrays returned here.  All images are pixels in [0, 1].
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import ConfigError

__all__ = ["Prediction", "AttackView", "to_model_input", "transform_input", "transform_roi", "overlay",
           "top_k", "analyse", "warm_up", "amplify_perturbation", "roi_mode_problem", "METHODS", "STEPPED",
           "LAB_QUERIES", "ROI_MODES"]

#: The lab's attacks, the worst case first; labels say which are weak.
METHODS: dict[str, str] = {
    "autoattack": "Worst case (ensemble)", "apgd-ce": "APGD-CE", "apgd-t": "APGD-T", "fab-t": "FAB-T",
    "square": "Square (black-box)", "pgd": "PGD (weak)", "fgsm": "FGSM (weak)",
}
#: Attacks whose number of steps the lab's slider sets (the ensemble keeps its own budget).
STEPPED = ("apgd-ce", "apgd-t", "fab-t", "pgd")
#: Square's query budget in the lab (alone and in the ensemble), so a slider move stays interactive.
LAB_QUERIES = 500
#: Where the attack may change pixels: everywhere, only outside the stored ROI (a spurious-feature
#: attack: the lesion is left as it is) or only inside it.
ROI_MODES: dict[str, str] = {"everywhere": "everywhere", "outside": "outside the lesion only (spurious features)",
                             "inside": "inside the lesion only"}


@dataclass
class Prediction:
    """One ranked class: index, display name and softmax probability."""

    index: int
    name: str
    probability: float


@dataclass
class AttackView:
    """What the attack lab shows for one model.

    Arrays are ``(H, W)`` for one channel or ``(H, W, 3)`` for three, in [0, 1];
    CAMs are ``(H, W)`` in [0, 1].  With an ROI, ``roi`` is its ``(H, W)``
    bool mask and ``alignment`` the CAM–ROI numbers of both maps
    (:func:`core.studio.roi_alignment.alignment_pair`: ``{"clean"|"attacked": {"dice", "pointing"}}``).
    """

    clean: np.ndarray
    adversarial: np.ndarray
    perturbation: np.ndarray
    clean_top: list[Prediction]
    adversarial_top: list[Prediction]
    cam_clean: np.ndarray | None
    cam_adversarial: np.ndarray | None
    drift: dict[str, float] = field(default_factory=dict)
    alignment: dict[str, dict[str, float]] = field(default_factory=dict)
    roi: np.ndarray | None = None
    label: int = 0
    label_name: str = ""
    linf: float = 0.0
    seconds: float = 0.0
    attack: str = ""
    broken_by: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def flipped(self) -> bool:
        """True when the attack changed the top-1 prediction."""
        return self.clean_top[0].index != self.adversarial_top[0].index


def to_model_input(image: np.ndarray, in_channels: int, size: int) -> torch.Tensor:
    """An image in [0, 1] as the ``(1, C, size, size)`` tensor a model expects.

    ``image`` is ``(H, W)`` or ``(H, W, 3)``; grey images are repeated to three
    channels and colour images averaged to one, as the model needs.
    """
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim == 3 and arr.shape[-1] in (3, 4):
        arr = arr[..., :3].transpose(2, 0, 1)
    else:
        raise ConfigError(f"expected an (H, W) or (H, W, 3) image, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ConfigError("the image contains NaN or infinite pixels")
    x = torch.from_numpy(np.clip(arr, 0.0, 1.0)).unsqueeze(0)
    if x.shape[1] != in_channels:
        x = x.mean(1, keepdim=True) if in_channels == 1 else x.mean(1, keepdim=True).repeat(1, in_channels, 1, 1)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp(0.0, 1.0).contiguous()


def transform_input(x: torch.Tensor, rotation_deg: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    """Rotate (degrees, counter-clockwise) and rescale ``x`` (B, C, H, W) about the centre."""
    if rotation_deg:
        from core.datasets import rotate_images

        x = rotate_images(x, rotation_deg)
    if scale != 1.0:
        from core.datasets import rescale_images

        x = rescale_images(x, scale)
    return x


def top_k(logits: torch.Tensor, class_names: Sequence[str] | None, k: int = 3) -> list[Prediction]:
    """The ``k`` most probable classes of one ``(K,)`` logit vector."""
    probs = torch.softmax(logits.detach().float(), dim=-1)
    values, indices = probs.topk(min(k, probs.numel()))
    return [Prediction(int(i), _class_name(int(i), class_names), float(v)) for v, i in zip(values, indices)]


def _class_name(index: int, class_names: Sequence[str] | None) -> str:
    names = list(class_names) if class_names else []
    return names[index] if 0 <= index < len(names) else str(index)


def amplify_perturbation(delta: torch.Tensor) -> torch.Tensor:
    """``delta`` (C, H, W) mapped to [0, 1] with 0.5 = unchanged, stretched to its own max."""
    peak = float(delta.abs().max())
    return (0.5 + 0.5 * delta / peak) if peak > 0 else torch.full_like(delta, 0.5)


def _as_display(x: torch.Tensor) -> np.ndarray:
    arr = x.detach().cpu().float().numpy()
    return arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)


def analyse(model: nn.Module, x: torch.Tensor, *, attack: str = "fgsm", eps: float = 8 / 255,
            steps: int = 10, label: int | None = None, roi: np.ndarray | torch.Tensor | None = None,
            roi_mode: str = "everywhere", class_names: Sequence[str] | None = None,
            cam_layer: nn.Module | None = None, seed: int = 0) -> AttackView:
    """Attack one image and explain both versions.

    Args:
        model: maps pixels (B, C, H, W) in [0, 1] to logits (B, K).
        x: (1, C, H, W) image in [0, 1] (see :func:`to_model_input`).
        attack: a key of :data:`METHODS` (L∞); ``"autoattack"`` is the fast ensemble with
            :data:`LAB_QUERIES` Square queries, and the view says which member broke the image.
            ``eps`` in pixel units.
        steps: steps of the attacks in :data:`STEPPED`.
        label: the true class; ``None`` attacks the model's own clean prediction.
        roi: optional (H, W) expert ROI on the grid of ``x``: the CAM–ROI
            alignment of both maps is measured against it, and ``roi_mode``
            (a key of :data:`ROI_MODES`) says whether the attack may change
            pixels ``"everywhere"``, only ``"inside"`` or only ``"outside"`` it.
        cam_layer: layer for Grad-CAM (default ``model.cam_layer`` if present).
        seed: seeds the attack's random draws so a rerun shows the same picture.

    Both Grad-CAMs explain the attacked class (``label``, else the clean
    prediction), so a moved map means the evidence for the same class moved.
    Raises :class:`ConfigError` when the attack does not apply to the model
    (e.g. APGD-T on a model with fewer than 4 classes) or an ROI mode is asked
    without an ROI; warnings raised by the attack (probability outputs) are
    returned in :attr:`AttackView.warnings`.
    """
    import warnings as _warnings

    from core.attacks import AutoAttack, make_attack
    from core.explain import GradCAM, soft_dice
    from core.robustness import spearman_per_image
    from core.studio.roi_alignment import alignment_pair

    if x.dim() != 4 or x.shape[0] != 1:
        raise ConfigError(f"expected one image as (1, C, H, W), got {tuple(x.shape)}")
    problem = roi_mode_problem(roi is not None, roi_mode)
    if problem is not None:
        raise ConfigError(problem)
    start = time.perf_counter()
    if model.training:
        model.eval()
    with torch.no_grad():
        clean_logits = model(x)[0]
    y = int(clean_logits.argmax()) if label is None else int(label)
    if attack not in METHODS:
        raise ConfigError(f"unknown attack {attack!r}; choose one of {', '.join(METHODS)}")
    if attack == "autoattack":
        attacker = AutoAttack(model, float(eps), version="fast", n_queries=LAB_QUERIES)
    else:
        attacker = make_attack(attack, model, float(eps), steps=int(steps) if attack in STEPPED else None,
                               n_queries=LAB_QUERIES)
    roi_t = None
    if roi is not None:
        roi_t = torch.as_tensor(np.asarray(roi), dtype=torch.float32)
        if roi_t.shape[-2:] != x.shape[-2:]:
            roi_t = F.interpolate(roi_t[None, None], size=x.shape[-2:], mode="nearest")[0, 0]
        roi_t = roi_t > 0.5
    roi_batch = None
    if roi_mode != "everywhere":
        attacker.roi_mode = roi_mode
        roi_batch = roi_t.float()[None, None]
    generator = torch.Generator().manual_seed(seed)
    broken_by = None
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        if isinstance(attacker, AutoAttack):
            result = attacker.evaluate(x, torch.tensor([y]), roi=roi_batch, generator=generator)
            x_adv, code = result.adversarial, int(result.broken_by[0, 0])
            broken_by = ("clean (already wrong)" if code == 0 else result.attacks[code - 1]) if code >= 0 else None
        else:
            x_adv = attacker(x, torch.tensor([y]), roi=roi_batch, generator=generator)
    found = list(dict.fromkeys(" ".join(str(w.message).split()) for w in caught if issubclass(w.category, UserWarning)))
    with torch.no_grad():
        adv_logits = model(x_adv)[0]

    layer = cam_layer if cam_layer is not None else getattr(model, "cam_layer", None)
    cam_clean = cam_adv = None
    drift: dict[str, float] = {}
    alignment: dict[str, dict[str, float]] = {}
    if layer is not None:
        with GradCAM(model, layer) as cam:
            # The same class in both images: does its evidence move when the pixels are attacked?
            maps = cam(torch.cat([x, x_adv]), [y, y]).detach()
        cam_clean, cam_adv = maps[0], maps[1]
        if roi_t is not None:
            alignment = alignment_pair(cam_clean, cam_adv, roi_t)
        # The same quantities as core.robustness.explanation_drift, from the maps already computed.
        drift = {"1 − soft Dice": float(1 - soft_dice(maps[:1], maps[1:])[0]),
                 "self floor": float(1 - soft_dice(maps[:1], maps[:1])[0]),
                 "Spearman": float(spearman_per_image(maps[:1], maps[1:])[0])}
    delta = (x_adv - x)[0]
    return AttackView(
        clean=_as_display(x[0]), adversarial=_as_display(x_adv[0]),
        perturbation=_as_display(amplify_perturbation(delta)),
        clean_top=top_k(clean_logits, class_names), adversarial_top=top_k(adv_logits, class_names),
        cam_clean=None if cam_clean is None else cam_clean.numpy(),
        cam_adversarial=None if cam_adv is None else cam_adv.numpy(),
        drift=drift, alignment=alignment, roi=None if roi_t is None else roi_t.numpy(), label=y,
        label_name=_class_name(y, class_names), linf=float(delta.abs().max()), seconds=time.perf_counter() - start,
        attack=METHODS[attack], broken_by=broken_by, warnings=found,
    )


def roi_mode_problem(has_roi: bool, roi_mode: str) -> str | None:
    """Why the attack cannot use ``roi_mode`` (one line), or None; an unknown mode is a :class:`ConfigError`."""
    if roi_mode not in ROI_MODES:
        raise ConfigError(f"unknown ROI mode {roi_mode!r}; choose one of {', '.join(ROI_MODES)}")
    if roi_mode != "everywhere" and not has_roi:
        return (f"this image has no stored ROI, so the attack cannot be restricted to {roi_mode} the lesion; "
                "draw one on Annotate or choose 'everywhere'")
    return None


def warm_up(model: nn.Module, in_channels: int, size: int) -> None:
    """Run the whole analysis once on a blank image.

    The first pass through a model is slow (e2cnn expands its filters, autograd
    and the hooks allocate); paying it when the model loads keeps every later
    slider move fast.
    """
    analyse(model, torch.zeros(1, in_channels, size, size), attack="pgd", eps=1 / 255, steps=1)


def transform_roi(roi: np.ndarray, size: int, rotation_deg: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """An (H, W) ROI mask resized to ``size`` and moved exactly like the image; (size, size) bool."""
    m = torch.from_numpy(np.asarray(roi, dtype=np.float32))[None, None]
    m = F.interpolate(m, size=(size, size), mode="bilinear", align_corners=False)
    m = transform_input(m, rotation_deg, scale)
    return (m[0, 0] >= 0.5).numpy()


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45, roi: np.ndarray | None = None) -> np.ndarray:
    """A CAM (H, W) in [0, 1] blended as a jet heat map over ``image``; (H, W, 3) uint8.

    With ``roi`` (H, W) bool, its outline is drawn in white on top.
    """
    import cv2

    base = np.asarray(image, dtype=np.float32)
    if base.ndim == 2:
        base = np.repeat(base[..., None], 3, axis=-1)
    heat = cv2.applyColorMap(np.uint8(np.clip(cam, 0, 1) * 255), cv2.COLORMAP_JET)[..., ::-1]
    if heat.shape[:2] != base.shape[:2]:
        heat = cv2.resize(heat, base.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    out = np.uint8(np.clip((1 - alpha) * base + alpha * heat.astype(np.float32) / 255.0, 0, 1) * 255)
    if roi is not None:
        from core.studio.outlines import draw_outlines

        out = draw_outlines(out, [(roi, (255, 255, 255))])
    return out
