"""Start-up checks of an existing store file, before anything writes to it.

Opening a store switches it to WAL mode and migrates it, both of which
write.  A file that is not an SQLite database, that fails ``PRAGMA
integrity_check``, or that a newer EquiGuard wrote (schema version above
:data:`~core.store.schema.SCHEMA_VERSION`) is refused first with a
:class:`~core.store.errors.StoreError` and left byte-for-byte untouched:
never overwritten, never migrated down.

The full check reads every page, so it runs once per process per file (by
device and inode); :func:`forget_checked` makes the next open check again
(after a restore replaced the content).

The file is only ever read through SQLite (a ``mode=ro`` connection), never
with Python's ``open``: closing any other descriptor of a database file
drops the whole process's POSIX locks on it, after which another process
may checkpoint and delete the WAL under this process's live connections
(SQLite's "how to corrupt" guide, 2.2; it did happen here under load).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from core.errors import clean_message
from core.store.errors import StoreError
from core.store.schema import SCHEMA_VERSION

__all__ = ["check_database_file", "check_store", "forget_checked", "RESTORE_HINT"]

RESTORE_HINT = "it was left untouched; restore a backup with `python -m core annotations restore BACKUP`"

_checked: set[tuple[int, int, int]] = set()
_lock = threading.Lock()


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return os.getpid(), st.st_dev, st.st_ino


def forget_checked(path: str | os.PathLike) -> None:
    """Check ``path`` again the next time it is opened in this process."""
    key = _identity(Path(path))
    with _lock:
        _checked.discard(key)


def check_store(workspace) -> None:
    """:func:`check_database_file` on a :class:`~core.workspace.Workspace`'s store (what the pages call first)."""
    check_database_file(workspace.db_path)


def check_database_file(path: str | os.PathLike, *, cache: bool = True) -> None:
    """Refuse a store file that is not SQLite, is damaged, or is newer than this code.

    A missing or empty file passes (a new store).  Read-only: the file is
    opened with ``mode=ro`` and nothing is written.  Raises StoreError.
    """
    path = Path(path)
    key = _identity(path)
    if key is None or path.stat().st_size == 0:
        return
    if cache and key in _checked:
        return
    name = path.name
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    except sqlite3.Error as exc:
        raise StoreError(f"the annotation database {name} cannot be opened ({exc}); {RESTORE_HINT}") from exc
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(f"the annotation database {name} has schema version {version}, newer than this "
                             f"EquiGuard's {SCHEMA_VERSION}; update EquiGuard to open it (the file was not changed)")
        problems = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        what = "is not an SQLite database" if "not a database" in str(exc) else f"is damaged ({exc})"
        raise StoreError(f"the annotation database {name} {what}; {RESTORE_HINT}") from exc
    finally:
        conn.close()
    if problems != ["ok"]:
        first = clean_message(problems[0], limit=80)
        raise StoreError(f"the annotation database {name} failed its integrity check ({len(problems)} problem(s), "
                         f"first: {first}); {RESTORE_HINT}")
    with _lock:
        _checked.add(key)
