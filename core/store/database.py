"""Connections and transactions for the SQLite store (the housekeeping every table shares).

Durability choices, all per connection:

* ``journal_mode=WAL``: readers never block the writer and vice versa, so the
  studio's pages keep reading while a background job writes progress.
* ``synchronous=FULL``: every commit fsyncs the write-ahead log before it
  returns.  With ``NORMAL`` a commit survives a killed process but can be lost
  on power failure or an OS crash; an annotation a radiologist saw "saved"
  must survive both, and one fsync per save is cheap next to drawing an ROI.
* ``foreign_keys=ON`` (SQLite's default is off) so ROIs cannot outlive images.
* ``busy_timeout``: several studio sessions, CLI jobs and processes share one
  file; a writer waits for the lock instead of failing at once.

Every write is one ``BEGIN IMMEDIATE ... COMMIT`` transaction: taking the write
lock up front avoids the deadlock of two readers both upgrading to writers,
and a crash at any point leaves either the whole write or none of it.

Connections are per thread *and* per process: a ``Streamlit`` session thread,
a worker thread and a forked child each get their own (SQLite connections must
not cross ``fork``, and a connection is not safe to share between threads).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from core.store.errors import StoreError
from core.store.health import check_database_file
from core.store.schema import migrate
from core.workspace import Workspace

__all__ = ["Database", "utc_now"]

DEFAULT_BUSY_TIMEOUT = 30.0


def utc_now() -> str:
    """Current UTC time as ISO 8601 with offset, e.g. ``2026-01-02T03:04:05.123456+00:00``."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _rollback(conn: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite has not already rolled it back itself (e.g. on SQLITE_FULL)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class _Connection(sqlite3.Connection):
    """A plain connection that can be weakly referenced (for :meth:`Database.close`)."""


class Database:
    """Owns the database file, its connections, migrations and transactions."""

    def __init__(self, workspace_or_db_path: Workspace | str | os.PathLike,
                 busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        if isinstance(workspace_or_db_path, Workspace):
            path = workspace_or_db_path.db_path
        else:
            path = Path(workspace_or_db_path).expanduser()
            if path.is_dir():
                path = Workspace(path).db_path
        self.path = path.resolve()
        self.busy_timeout = float(busy_timeout)
        self._local = threading.local()
        self._all: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._lock = threading.Lock()
        if not self.path.parent.is_dir():
            raise StoreError(f"the folder for the annotation database does not exist: {self.path.parent}")
        # Damaged, foreign or newer files are refused before WAL mode or a migration writes to them.
        check_database_file(self.path)
        try:
            migrate(self._conn())
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(f"the annotation database {self.path.name} cannot be opened ({exc})") from exc

    # ------------------------------------------------------------ connections
    def _open(self) -> _Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                   check_same_thread=False, factory=_Connection)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the annotation database {self.path}: {exc}") from exc
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"the annotation database {self.path.name} cannot be opened ({exc})") from exc
        if str(mode).lower() != "wal":
            conn.close()
            raise StoreError(f"the annotation database {self.path} cannot use WAL mode (got {mode!r}); "
                             "keep the workspace on a local disk")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        with self._lock:
            self._all.add(conn)
        return conn

    def _conn(self) -> _Connection:
        pid = os.getpid()
        state = getattr(self._local, "state", None)
        if state is None or state[0] != pid:
            # A connection inherited through fork is abandoned, never used or closed here.
            self._local.state = state = (pid, self._open())
        return state[1]

    def close(self) -> None:
        """Close this process's connections (those of other threads too); later calls reopen."""
        pid = os.getpid()
        with self._lock:
            conns = list(self._all)
            self._all = weakref.WeakSet()
        state = getattr(self._local, "state", None)
        if state is not None and state[0] == pid:
            self._local.state = None
        for conn in conns:
            conn.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------- transactions
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed (and fsynced) on success, rolled back on any error."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(f"the annotation database is busy (locked for more than "
                                 f"{self.busy_timeout:g} s by another process); try again") from exc
            raise
        try:
            yield conn
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            # A full disk, a read-only file or an I/O error: nothing of this write is kept.
            _rollback(conn)
            raise StoreError(f"the annotation database could not be written ({exc}); nothing was changed") from exc
        except BaseException:
            _rollback(conn)
            raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several SELECTs."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` for a healthy file."""
        rows = self._conn().execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(r[0]) for r in rows)

    def schema_version(self) -> int:
        return int(self._conn().execute("PRAGMA user_version").fetchone()[0])
