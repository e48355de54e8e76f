"""Exceptions that carry a one-line, user-actionable message.

Everything raised on purpose for bad user input derives from
:class:`EquiGuardError`; the CLI prints ``error: <message>`` for these and the
pages show the message instead of a traceback.
"""

__all__ = ["EquiGuardError", "LoadError", "ConfigError"]


class EquiGuardError(Exception):
    """Base class for errors caused by user input rather than by a bug."""

    def __str__(self) -> str:
        # Keep the message on one line whatever the caller passed in.
        return " ".join(super().__str__().split())


class LoadError(EquiGuardError, ValueError):
    """A file or folder could not be read as the expected format."""


class ConfigError(EquiGuardError, ValueError):
    """An option, argument or configuration value is invalid."""
