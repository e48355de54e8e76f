"""The progress callback a CLI process uses when it runs as a studio job."""

from __future__ import annotations

import os
import signal
import threading
import time

from core.jobs.table import JobTable
from core.jobs.status import CANCELLED, DONE, FAILED
from core.progress import ProgressEvent
from core.workspace import Workspace

__all__ = ["JobProgress", "INTERRUPTED_EXIT_CODE"]

# What ``core.cli.main`` returns for KeyboardInterrupt; SIGTERM is turned into
# that so a cancelled job unwinds through ``finally`` blocks (temp files are
# removed, no half-written checkpoint is left behind).
INTERRUPTED_EXIT_CODE = 130


def _raise_interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


class JobProgress:
    """Writes a job's :class:`ProgressEvent` stream into the workspace's jobs table.

    Created by the CLI when ``--job-id`` is given.  On creation it marks the
    job running (with this process's pid); events are buffered and flushed at
    most ``1 / min_interval`` times per second, and :meth:`close` always
    flushes the last one.  :meth:`finish` (called by the CLI with the exit
    code) decides whether :meth:`close` records ``done``, ``failed`` or
    ``cancelled``; a job already marked ``cancelled`` stays cancelled.
    """

    def __init__(self, workspace: Workspace, job_id: int, min_interval: float = 0.25) -> None:
        self.workspace = workspace
        self.job_id = int(job_id)
        self.min_interval = float(min_interval)
        self._table = JobTable(workspace)
        self._buffer: list[ProgressEvent] = []
        self._last_flush = float("-inf")
        self._exit_code: int | None = None
        self._error: str | None = None
        self._closed = False
        self._previous_sigterm = None
        self._table.mark_running(self.job_id, pid=os.getpid())
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)

    def __call__(self, event: ProgressEvent) -> None:
        self._buffer.append(event)
        now = time.monotonic()
        if now - self._last_flush >= self.min_interval:
            self.flush()

    def flush(self) -> None:
        """Write buffered events now (one transaction)."""
        if not self._buffer:
            return
        events, self._buffer = self._buffer, []
        now = time.time()
        self._table.record_events(self.job_id, [{**e.to_dict(), "time": now} for e in events])
        self._last_flush = time.monotonic()

    def finish(self, exit_code: int, error: str | None = None) -> None:
        """Remember how the command ended; :meth:`close` writes it."""
        self._exit_code = int(exit_code)
        self._error = error

    def close(self) -> None:
        """Flush; once :meth:`finish` has been called, also record the final status.

        Commands may close their reporter early (e.g. to end a terminal bar
        before printing); that only flushes, and the CLI's own ``finish`` +
        ``close`` afterwards records how the command ended.
        """
        self.flush()
        if self._closed or self._exit_code is None:
            return
        self._closed = True
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
        code = self._exit_code
        if code == 0:
            status, error = DONE, None
        elif code == INTERRUPTED_EXIT_CODE:
            status, error = CANCELLED, self._error or "cancelled"
        else:
            status, error = FAILED, self._error or f"exited with status {code}"
        self._table.mark_finished(self.job_id, status=status, exit_code=code, error=error)
