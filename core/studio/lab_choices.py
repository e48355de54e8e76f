"""What the Attack lab offers: which models fit an image, and the view it opens on.

A model is offered for an image only when :func:`core.studio.compat.pairing_problem`
finds nothing wrong (channels, size, classes, kind of data); the others are
listed with that one-line reason.  The default view is a medical image with a
stored ROI and two medical models that fit it - guided vs unguided few-shot
networks of one run when the workspace has them - never a digit when
anything medical fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from core.studio.attack_lab import roi_mode_problem
from core.studio.compat import pairing_problem
from core.studio.image_sources import Source, StudioImage
from core.studio.registry import ModelEntry
from core.workspace import Workspace

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["Offer", "offer", "default_models", "default_source", "label_index", "roi_problem", "model_input",
           "MAX_DEFAULT_PROBES"]

#: How many images :func:`default_source` loads at most while looking for a medical view.
MAX_DEFAULT_PROBES = 40


@dataclass
class Offer:
    """The models that fit one image (registry order) and why each other one does not.

    ``unusable`` are checkpoints the registry could not load (e.g. a few-shot
    checkpoint without a support set); ``mismatched`` maps a model name to
    its pairing problem.
    """

    fits: list[ModelEntry] = field(default_factory=list)
    mismatched: dict[str, str] = field(default_factory=dict)
    unusable: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str | None:
        """One line saying that no model fits, with the first reason; None when some do."""
        if self.fits:
            return None
        if self.mismatched:
            name, reason = next(iter(self.mismatched.items()))
            more = len(self.mismatched) - 1
            return (f"No model of this workspace can classify this image: {name}: {reason}"
                    + (f" (and {more} more)" if more else ""))
        return "No usable model in this workspace: train one on Few-shot training or Symmetry models."


def offer(entries: Sequence[ModelEntry], image: StudioImage) -> Offer:
    """Split the registry's ``entries`` into those that can classify ``image`` and the rest."""
    result = Offer()
    spec = image.spec
    for entry in entries:
        if entry.error is not None:
            result.unusable[entry.name] = entry.error
            continue
        problem = pairing_problem(entry.spec, spec)
        if problem is None:
            result.fits.append(entry)
        else:
            result.mismatched[entry.name] = problem
    return result


def _guidance(entry: ModelEntry) -> str | None:
    """``dice``/``rrr``/``none`` for a studio few-shot run folder ``.../<run>/<guidance>/checkpoint.pt``."""
    return entry.path.parent.name if entry.kind == "fewshot" else None


def default_models(fits: Sequence[ModelEntry]) -> list[int]:
    """Indices into ``fits`` of the (up to) two models the lab shows first.

    Preference: a guided and an unguided few-shot model of the same run; two
    few-shot models; a few-shot model and a symmetry classifier; the first two.
    """
    n = len(fits)
    if n <= 1:
        return list(range(n))
    fewshot = [i for i, e in enumerate(fits) if e.kind == "fewshot"]
    for i in fewshot:
        for j in fewshot:
            if j != i and _guidance(fits[i]) == "dice" and _guidance(fits[j]) == "none" \
                    and fits[i].path.parent.parent == fits[j].path.parent.parent:
                return [i, j]
    if len(fewshot) >= 2:
        return fewshot[:2]
    if fewshot:
        other = next(i for i in range(n) if i != fewshot[0])
        return [fewshot[0], other]
    return [0, 1]


def default_source(workspace: Workspace, sources: Sequence[Source], entries: Sequence[ModelEntry]) -> int:
    """Index of the image the lab opens on.

    The first image with a stored ROI that two models fit, else one with an
    ROI that one model fits, else the first image any model fits, else 0.
    Loads at most :data:`MAX_DEFAULT_PROBES` images; unreadable ones are skipped.
    """
    from core.errors import EquiGuardError
    from core.studio.image_sources import load_source

    usable = [e for e in entries if e.error is None]
    best: tuple[int, int] | None = None  # (rank, index); lower rank is better
    for index, source in enumerate(sources[:MAX_DEFAULT_PROBES]):
        try:
            image = load_source(workspace, source)
        except (EquiGuardError, OSError):
            continue
        n_fit = len(offer(usable, image).fits)
        if n_fit == 0:
            continue
        rank = (0 if n_fit >= 2 else 1) if image.roi is not None else 2
        if best is None or rank < best[0]:
            best = (rank, index)
        if rank == 0:
            break
    return 0 if best is None else best[1]


def label_index(image: StudioImage, entry: ModelEntry) -> int | None:
    """The index of the image's class among ``entry``'s classes, or None if unlabelled or unknown to it."""
    if image.label_name is not None and image.label_name in entry.class_names:
        return entry.class_names.index(image.label_name)
    return None


def roi_problem(image: StudioImage, roi_mode: str) -> str | None:
    """Why ``roi_mode`` (a key of :data:`core.studio.attack_lab.ROI_MODES`) cannot be used on ``image``
    (one line), or None."""
    return roi_mode_problem(image.roi is not None, roi_mode)


def model_input(image: StudioImage, entry: ModelEntry, rotation_deg: float = 0.0,
                scale: float = 1.0) -> tuple[torch.Tensor, np.ndarray | None]:
    """``(x, roi)``: ``image`` as ``entry`` takes it, (1, C, size, size), and its ROI (size, size) bool
    (None without one), rotated and rescaled together.

    Raises :class:`ConfigError` with the pairing problem when the model cannot classify the image.
    """
    from core.studio.compat import prepare_input
    from core.studio.roi_alignment import transform_with_roi

    x, roi = prepare_input(image.pixels, entry.spec, image.spec, image.roi)
    return transform_with_roi(x, None if roi is None else roi.numpy(), rotation_deg, scale)
