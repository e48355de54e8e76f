"""Build attacks by name and parse ε lists such as ``"0,2/255,8/255"`` (CLI and pages)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Sequence

from torch import nn

from core.attacks.base import Attack
from core.attacks.fgsm import FGSM
from core.attacks.pgd import PGD
from core.errors import ConfigError

__all__ = ["ATTACKS", "make_attack", "parse_eps_list", "parse_number"]

ATTACKS: dict[str, type[Attack]] = {"fgsm": FGSM, "pgd": PGD}


def parse_number(text: str, what: str = "value") -> float:
    """``"8/255"``, ``"0.03"`` or ``"1e-2"`` as a float; :class:`ConfigError` otherwise."""
    text = str(text).strip()
    try:
        value = float(Fraction(text)) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError):
        raise ConfigError(f"{what} {text!r} is not a number or fraction like 8/255") from None
    if not math.isfinite(value):
        raise ConfigError(f"{what} {text!r} must be finite")
    return value


def parse_eps_list(text: str | Sequence[str]) -> list[float]:
    """Comma-separated ε values in pixel units, e.g. ``"0,2/255,4/255"`` -> ``[0.0, 0.0078, 0.0157]``."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    parts = [p for p in (str(p).strip() for p in parts) if p]
    if not parts:
        raise ConfigError("--eps needs at least one value, e.g. 0,2/255,8/255")
    values = [parse_number(p, "eps") for p in parts]
    bad = [v for v in values if v < 0 or v > 1]
    if bad:
        raise ConfigError(f"eps values must lie in [0, 1] (pixel units), got {bad[0]}")
    return values


def make_attack(name: str, model: nn.Module, eps: float | Sequence[float], *, norm: str = "inf",
                steps: int = 10, alpha: float | None = None, random_start: bool = True,
                restarts: int = 1, targeted: bool = False) -> Attack:
    """An attack from its name (``"fgsm"`` or ``"pgd"``); FGSM ignores the PGD-only options.

    FGSM exists only for L∞; asking for it with ``norm="2"`` is a :class:`ConfigError`.
    """
    key = str(name).lower()
    if key not in ATTACKS:
        raise ConfigError(f"unknown attack {name!r}; choose one of {sorted(ATTACKS)}")
    norm = str(norm).lower().removeprefix("l")
    if key == "fgsm":
        if norm != "inf":
            raise ConfigError("FGSM is an L-inf attack; use --attack pgd --norm 2 for L2")
        return FGSM(model, eps, targeted=targeted)
    return PGD(model, eps, norm=norm, steps=steps, alpha=alpha, random_start=random_start,
               restarts=restarts, targeted=targeted)
