"""Reader profiles: who drew an ROI or set a label, and in which role.

A reader's name is what every ROI, ROI version and class label stores in its
``annotator`` column, so profiles add a role to names the store already
records; a name never registered counts as a plain ``reader``.
:func:`validate_reader_name` is the one rule for names, applied to every write.
"""

from __future__ import annotations

import unicodedata

from core.errors import ConfigError
from core.store.database import Database, utc_now
from core.store.records import ROLES, Reader

__all__ = ["ReadersMixin", "validate_reader_name", "MAX_READER_NAME"]

MAX_READER_NAME = 100
# Cc: control characters (tab, newline, escape ...); Cf: invisible format characters such as
# right-to-left overrides that make one name display as another; Zl/Zp: line/paragraph separators.
_FORBIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp"})


def validate_reader_name(name: object) -> str:
    """The reader name with surrounding spaces removed; :class:`ConfigError` when it is unusable.

    A name is 1-100 characters of printable text.  The message never repeats
    the name (it may hold anything).
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("reader name must be a non-empty text")
    text = name.strip()
    if len(text) > MAX_READER_NAME:
        raise ConfigError(f"reader name is {len(text)} characters long; at most {MAX_READER_NAME} are allowed")
    for position, char in enumerate(text, start=1):
        if unicodedata.category(char) in _FORBIDDEN:
            raise ConfigError(f"reader name contains a control or invisible character (U+{ord(char):04X} at "
                              f"position {position}); use letters, digits, spaces and punctuation")
    return text


def _check_role(role: object) -> str:
    if role not in ROLES:
        raise ConfigError(f"reader role must be one of {', '.join(ROLES)}, got {role!r}")
    return str(role)


class ReadersMixin:
    """Register, look up and list reader profiles."""

    def register_reader(self: Database, name: str, role: str = "reader") -> Reader:
        """Create the profile, or change the role of an existing one; returns it."""
        name, role = validate_reader_name(name), _check_role(role)
        now = utc_now()
        with self._write() as conn:
            conn.execute("INSERT INTO readers (name, role, created_at, updated_at) VALUES (?, ?, ?, ?)"
                         " ON CONFLICT (name) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at",
                         (name, role, now, now))
        return Reader(name, role)

    def get_reader(self: Database, name: str) -> Reader:
        """The profile of ``name``; a name never registered is a plain ``reader``."""
        name = validate_reader_name(name)
        row = self._conn().execute("SELECT role FROM readers WHERE name = ?", (name,)).fetchone()
        return Reader(name, row[0] if row else "reader")

    def list_readers(self: Database) -> list[Reader]:
        """Registered profiles plus every other name found on an ROI or label, sorted by name."""
        conn = self._conn()
        roles = dict(conn.execute("SELECT name, role FROM readers").fetchall())
        names = {r[0] for r in conn.execute("SELECT DISTINCT annotator FROM rois UNION"
                                            " SELECT DISTINCT annotator FROM image_labels").fetchall()}
        return [Reader(n, roles.get(n, "reader")) for n in sorted(names | set(roles))]

    def reader_roles(self: Database) -> dict[str, str]:
        """``{name: role}`` of the registered profiles."""
        return dict(self._conn().execute("SELECT name, role FROM readers").fetchall())
