"""Build attacks by name and parse ε lists such as ``"0,2/255,8/255"`` (CLI and pages)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Sequence

from torch import nn

from core.attacks.apgd import APGD
from core.attacks.apgdt import APGDT
from core.attacks.autoattack import AutoAttack
from core.attacks.base import Attack
from core.attacks.fab import FABT
from core.attacks.fgsm import FGSM
from core.attacks.pgd import PGD
from core.attacks.square import Square
from core.errors import ConfigError

__all__ = ["ATTACKS", "make_attack", "parse_eps_list", "parse_number"]

#: Every attack the CLI and the pages can build by name.
ATTACKS: dict[str, type[Attack]] = {"autoattack": AutoAttack, "apgd-ce": APGD, "apgd-dlr": APGD, "apgd-t": APGDT,
                                    "fab-t": FABT, "square": Square, "pgd": PGD, "fgsm": FGSM}


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


def parse_eps_list(text: str | Sequence[str], max_value: float = 1.0) -> list[float]:
    """Comma-separated ε values in pixel units, e.g. ``"0,2/255,4/255"`` -> ``[0.0, 0.0078, 0.0157]``.

    Values must lie in ``[0, max_value]``: 1 for L∞ (the pixel range); L2 callers pass the image's diameter.
    """
    parts = text.split(",") if isinstance(text, str) else list(text)
    parts = [p for p in (str(p).strip() for p in parts) if p]
    if not parts:
        raise ConfigError("--eps needs at least one value, e.g. 0,2/255,8/255")
    values = [parse_number(p, "eps") for p in parts]
    bad = [v for v in values if v < 0 or v > max_value]
    if bad:
        raise ConfigError(f"eps values must lie in [0, {max_value:.4g}] (pixel units, e.g. 8/255), got {bad[0]:.4g}")
    return values


def make_attack(name: str, model: nn.Module, eps: float | Sequence[float], *, norm: str = "inf",
                steps: int | None = None, alpha: float | None = None, random_start: bool = True,
                restarts: int = 1, targeted: bool = False, version: str = "standard",
                n_targets: int | None = None, n_queries: int | None = None) -> Attack:
    """An attack from its name in :data:`ATTACKS`; options an attack does not have are ignored.

    ``steps=None`` means the attack's own default (PGD 10, APGD and FAB-T 100).
    FGSM and Square exist only for L∞; asking for them with ``norm="2"`` is a
    :class:`ConfigError`, as is ``targeted`` for the attacks that are untargeted by design.
    """
    key = str(name).lower()
    if key not in ATTACKS:
        raise ConfigError(f"unknown attack {name!r}; choose one of {sorted(ATTACKS)}")
    norm = str(norm).lower().removeprefix("l")
    if key in ("fgsm", "square") and norm != "inf":
        raise ConfigError(f"{key.upper()} is an L-inf attack here; use --attack apgd-ce or pgd with --norm 2 for L2")
    if targeted and key in ("apgd-t", "fab-t", "autoattack", "apgd-dlr"):
        raise ConfigError(f"{key} is untargeted (APGD-T and FAB-T pick their own target classes)")
    if key == "fgsm":
        return FGSM(model, eps, targeted=targeted)
    if key == "pgd":
        return PGD(model, eps, norm=norm, steps=steps or 10, alpha=alpha, random_start=random_start,
                   restarts=restarts, targeted=targeted)
    if key in ("apgd-ce", "apgd-dlr"):
        return APGD(model, eps, norm=norm, loss=key.removeprefix("apgd-"), steps=steps or 100, restarts=restarts,
                    targeted=targeted)
    if key == "apgd-t":
        return APGDT(model, eps, norm=norm, steps=steps or 100, restarts=restarts, n_targets=n_targets)
    if key == "fab-t":
        return FABT(model, eps, norm=norm, steps=steps or 100, restarts=restarts, n_targets=n_targets)
    if key == "square":
        return Square(model, eps, n_queries=n_queries or 5000, targeted=targeted)
    return AutoAttack(model, eps, version=version, norm=norm)
