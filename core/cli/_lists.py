"""Comma-separated option values (``--seeds 0,1,2``, ``--angles 0,45,90``) with one-line errors."""

from __future__ import annotations

from typing import Callable, TypeVar

from core.errors import ConfigError

__all__ = ["comma_list"]

T = TypeVar("T", int, float)


def comma_list(text: str, what: str, kind: Callable[[str], T]) -> list[T]:
    """Parse ``"a,b,c"`` with ``kind`` (``int`` or ``float``); ``what`` names the option in errors."""
    noun = "integers" if kind is int else "numbers"
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated {noun}, got {text!r}") from None
    if not values:
        raise ConfigError(f"{what} needs at least one value")
    return values
