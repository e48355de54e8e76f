"""The one source of few-shot defaults, and the named presets that change them.

:data:`DEFAULTS` (the ``recommended`` preset) is what :class:`TrainConfig`,
:class:`RunConfig`, :func:`evaluate_episodic`, ``python -m core fewshot`` and
the studio's Few-shot page use when nothing else is said.  ``--preset paper``
(:data:`PRESETS`) selects the MICCAI paper's values instead.  Why each
recommended value was chosen: ``docs/science/fewshot.md`` ("Defaults") and
``docs/science/fewshot-normalisation.md``.

Seeds are separate: ``data_seed`` generates the phantoms or splits real data
by patient, ``train_seed`` initialises the model and draws the training
episodes, ``eval_seed`` draws the test episodes.

This module lives outside :mod:`core.fewshot` and imports nothing heavy, so
the command line can show these defaults in ``--help`` without loading torch;
:mod:`core.fewshot` re-exports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from core.errors import ConfigError

__all__ = ["Preset", "DEFAULTS", "PAPER", "PRESETS", "DEFAULT_PRESET", "preset", "parse_seed"]

@dataclass(frozen=True)
class Preset:
    """Every default of a few-shot run (field names match the ``fewshot`` CLI options)."""

    # data
    backbone: str = "conv4"
    hidden: int = 64
    embed_dim: int = 64
    size: int = 64
    patients: int = 48
    slices: int = 4
    test_fraction: float = 0.5
    spurious: bool = False
    cue_kind: str = "corner"
    # episodes
    way: int = 3
    shot: int = 5
    query: int = 5
    episodes: int = 150
    # model head
    metric: str = "squared_euclidean"
    normalize: bool = False
    # training
    lr: float = 1e-3
    guidance: str = "dice"
    alpha: float = 1.0
    cam_score: str = "log_prob"
    first_order: bool = True    # docs/science/fewshot-normalisation.md: best in all four conditions
    cam_norm: str = "minmax"    # same study: sum, sigmoid and softmax were worse or had no effect
    guide_support: bool = False
    train_disjoint: bool = False
    # evaluation: >= 600 test episodes (PAPERS.md), support and query from different patients
    eval_episodes: int = 600
    cam_episodes: int = 50
    eval_disjoint: bool = True
    # seeds
    data_seed: int = 0
    train_seed: int = 0
    eval_seed: int = 1000


#: What we recommend from our measurements on the phantoms.
DEFAULTS = Preset()

#: The MICCAI paper's code: -distance CAM target, alpha 0.1 (BraTS), first-order
#: Grad-CAM, min-max CAMs, Adam at 1e-4, plain Euclidean distance, L2-normalised
#: embeddings.  (Its DenseNet-121 at 224x224 needs local weights: choose
#: ``--backbone densenet121 --weights FILE --size 224`` yourself.)
PAPER = replace(DEFAULTS, alpha=0.1, cam_score="distance", first_order=True, cam_norm="minmax", lr=1e-4,
                metric="euclidean", normalize=True)

PRESETS: dict[str, Preset] = {"recommended": DEFAULTS, "paper": PAPER}
DEFAULT_PRESET = "recommended"


def preset(name: str) -> Preset:
    """The preset called ``name`` (``recommended`` or ``paper``)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def parse_seed(value, what: str = "seed") -> int:
    """A seed from user input: a whole number in [0, 2**32) (``"3"``, ``3`` or ``3.0``), else ConfigError.

    ``what`` names the seed in the message (e.g. ``"data seed"``).
    """
    text = str(value).strip()
    number: int | None = None
    if not isinstance(value, bool):
        try:
            number = int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                as_float = float("nan")
            if math.isfinite(as_float) and as_float == int(as_float):
                number = int(as_float)
    if number is None or not 0 <= number < 2 ** 32:
        raise ConfigError(f"the {what} must be a whole number between 0 and 2^32 - 1, got {text!r}")
    return number
