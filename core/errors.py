"""Exceptions that carry a one-line, user-actionable message.

Everything raised on purpose for bad user input derives from
:class:`EquiGuardError`; the CLI prints ``error: <message>`` for these and the
pages show the message instead of a traceback.

Messages reach the page's error box, the command line's stderr and job logs,
so they are built only from allow-listed facts (a file's base name, a
transfer syntax known to pydicom's dictionary, shapes, bit depths, limits),
never from an attribute value read from a file.  :func:`clean_message` is the
last line of defence every message passes through: one line, no control
characters, at most :data:`MAX_MESSAGE_CHARS` characters.
"""

from __future__ import annotations

import unicodedata

__all__ = ["EquiGuardError", "LoadError", "ConfigError", "StorageError", "CancelledError", "MAX_MESSAGE_CHARS",
           "clean_message", "user_message", "safe_traceback", "os_error_text"]

#: Longest message an error, a job record or a log line carries.
MAX_MESSAGE_CHARS = 300


def clean_message(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` as one line: control and format characters removed, whitespace collapsed, cut to ``limit``."""
    chars = []
    for ch in str(text):
        category = unicodedata.category(ch)
        if ch.isspace():
            chars.append(" ")
        elif category not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            chars.append(ch)
    line = " ".join("".join(chars).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def os_error_text(exc: OSError, with_file: bool = True) -> str:
    """An OSError as one line, naming at most the file's base name (folders can name patients)."""
    from pathlib import Path

    where = f": {Path(exc.filename).name}" if with_file and getattr(exc, "filename", None) else ""
    return clean_message(f"{exc.strerror or type(exc).__name__}{where}")


def user_message(exc: BaseException) -> str:
    """What a user may see about ``exc``.

    The message of an :class:`EquiGuardError` (built from allow-listed
    facts); for any other exception only its type, since library messages
    can quote the data that made them fail.
    """
    if isinstance(exc, EquiGuardError):
        return str(exc)
    return clean_message(f"unexpected {type(exc).__name__} (a bug; the details are in the server log)")


def safe_traceback(exc: BaseException) -> str:
    """A traceback of ``exc`` (and its causes) without any exception message.

    Where the code failed (files, lines, functions, exception types) is what
    a bug report needs; the messages are left out because library messages
    can quote patient data from the file being read.
    """
    import traceback

    blocks, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_list(traceback.extract_tb(current.__traceback__)))
        blocks.append(f"Traceback (most recent call last):\n{frames}{type(current).__module__}."
                      f"{type(current).__qualname__}: <message withheld>\n")
        current = current.__cause__ or current.__context__
    return "\nwhile handling or caused by:\n".join(reversed(blocks))


class EquiGuardError(Exception):
    """Base class for errors caused by user input rather than by a bug."""

    def __str__(self) -> str:
        # One line, no control characters, bounded length, whatever the caller passed in.
        return clean_message(super().__str__())


class LoadError(EquiGuardError, ValueError):
    """A file or folder could not be read as the expected format."""


class ConfigError(EquiGuardError, ValueError):
    """An option, argument or configuration value is invalid."""


class StorageError(EquiGuardError):
    """A file or folder could not be written (permissions, full disk, read-only file system)."""


class CancelledError(EquiGuardError):
    """A command was not run, e.g. because the job it was queued behind failed or was cancelled."""
