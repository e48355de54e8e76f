"""Errors raised by the annotation store; all carry one-line, actionable messages."""

from __future__ import annotations

from core.errors import ConfigError, EquiGuardError

__all__ = ["StoreError", "NotFoundError", "StaleVersionError", "ManifestError"]


class StoreError(EquiGuardError):
    """The annotation store refused an operation (the database itself is fine)."""


class NotFoundError(StoreError, KeyError):
    """An image, ROI or job id that does not exist (or no longer exists)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return EquiGuardError.__str__(self)


class StaleVersionError(StoreError):
    """An edit was based on an older version of an ROI than the one stored."""


class ManifestError(ConfigError):
    """An export bundle's manifest (or a file it lists) is missing or invalid."""
