"""Online backup and restore of the store with SQLite's backup API.

``backup_store`` copies the live database while studio sessions and jobs
keep writing: the copy is taken in one backup step inside one read
transaction, so it is a consistent snapshot (every transaction committed
before it, none after), then checked with ``PRAGMA integrity_check`` and
switched to a self-contained single file (rollback journal, no ``-wal``).
It is written next to its destination under a temporary name and linked
into place, so a backup never replaces an existing file.

``restore_store`` copies a backup *into* the live database through the same
API (SQLite takes the write lock, so open connections see either the old or
the restored store), after checking the backup and keeping the current
store aside as a backup of its own.  A store that holds annotations is only
replaced when asked explicitly.  An older backup is migrated at once;
processes that had the store open before see the restored rows on their
next read (SQLite notices the change), and should be restarted when the
restore crossed a schema version.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from core.atomic import atomic_path
from core.errors import ConfigError
from core.store.database import Database
from core.store.errors import StoreError
from core.store.health import check_database_file, forget_checked
from core.workspace import Workspace

__all__ = ["BackupResult", "RestoreResult", "backup_store", "restore_store", "store_counts"]

_TABLES = ("images", "rois", "image_labels", "jobs")
_BUSY_MS = 30_000


@dataclass(frozen=True)
class BackupResult:
    """Where a backup went and what it holds (rows per table)."""

    path: Path
    counts: dict[str, int]


@dataclass(frozen=True)
class RestoreResult:
    """What was restored, and where the store it replaced was kept (None: there was none)."""

    counts: dict[str, int]
    previous: Path | None


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def store_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per EquiGuard table; raises StoreError when ``conn`` is not an EquiGuard store."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [t for t in _TABLES if t not in names]
    if missing:
        raise StoreError(f"not an EquiGuard annotation store (no {', '.join(missing)} table)")
    return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in _TABLES}


def _connect(path: Path, read_only: bool = False) -> sqlite3.Connection:
    uri = f"file:{path}?mode=ro" if read_only else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, timeout=_BUSY_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
    return conn


def _db_path(source: Workspace | str | os.PathLike) -> Path:
    return source.db_path if isinstance(source, Workspace) else Path(source).expanduser()


def backup_store(source: Workspace | str | os.PathLike, dest: str | os.PathLike) -> BackupResult:
    """Copy the store of ``source`` (a workspace or a database file) to ``dest``, online.

    ``dest`` is a new file, or an existing folder to put
    ``equiguard-<UTC time>.sqlite`` in.  Refuses an existing file, a
    damaged source and a copy that fails its integrity check.
    """
    src = _db_path(source)
    if not src.is_file():
        raise ConfigError(f"there is no annotation database at {src}")
    check_database_file(src, cache=False)
    target = Path(dest).expanduser()
    if target.is_dir():
        target = target / f"equiguard-{_stamp()}.sqlite"
    if target.exists():
        raise StoreError(f"{target.name} already exists; choose a new backup file name")
    with atomic_path(target, overwrite=False) as tmp:
        reader, writer = _connect(src, read_only=True), _connect(tmp)
        try:
            reader.backup(writer)  # pages=-1: one step, one read transaction, one consistent snapshot
            writer.execute("PRAGMA journal_mode = DELETE")
            problems = [r[0] for r in writer.execute("PRAGMA integrity_check").fetchall()]
            if problems != ["ok"]:
                raise StoreError(f"the backup copy failed its integrity check ({problems[0]}); nothing was written")
            counts = store_counts(writer)
        finally:
            writer.close()
            reader.close()
    return BackupResult(target, counts)


def restore_store(workspace: Workspace, backup: str | os.PathLike, *, replace: bool = False) -> RestoreResult:
    """Make the workspace's store a copy of ``backup``.

    The backup must pass its integrity check, be an EquiGuard store and not
    be newer than this code (older ones are migrated when next opened).  A
    current store that holds any rows is replaced only with ``replace``; it
    is first copied aside to ``equiguard.sqlite.before-restore-<time>``.
    """
    src = Path(backup).expanduser()
    if not src.is_file():
        raise ConfigError(f"backup file not found: {src.name}")
    check_database_file(src, cache=False)
    reader = _connect(src, read_only=True)
    try:
        counts = store_counts(reader)
        current = workspace.db_path
        previous = None
        if current.is_file() and current.stat().st_size > 0:
            check_database_file(current, cache=False)
            probe = _connect(current, read_only=True)
            try:
                held = store_counts(probe)
            finally:
                probe.close()
            if any(held.values()) and not replace:
                raise StoreError(f"the workspace's store holds {held['images']} image(s), {held['rois']} ROI(s) and "
                                 f"{held['jobs']} job(s); pass --replace to restore over it (it is kept aside first)")
            previous = backup_store(current, current.with_name(f"{current.name}.before-restore-{_stamp()}")).path
        writer = _connect(current)
        try:
            writer.execute("PRAGMA journal_mode = WAL")
            reader.backup(writer)
        finally:
            writer.close()
    except sqlite3.Error as exc:
        raise StoreError(f"the restore failed ({exc}); the current store was not changed") from exc
    finally:
        reader.close()
    forget_checked(current)
    Database(current).close()  # checks the restored file and migrates an older backup now
    return RestoreResult(counts, previous)
