"""Launch, inspect and cancel studio background jobs.

A job is a row of the store's jobs table plus a detached CLI process (see
:mod:`core.jobs.process`).  The pages only ever call these functions; the
running process reports through :class:`core.jobs.JobProgress`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from core.errors import ConfigError, StorageError, clean_message, os_error_text
from core.jobs.process import log_tail, pid_alive, spawn_cli, terminate_group
from core.jobs.status import ACTIVE, CANCELLED, FAILED, FINAL, STALE_MESSAGE
from core.jobs.table import JobTable
from core.store import Job
from core.workspace import Workspace

__all__ = ["launch_job", "cancel_job", "get_job", "list_jobs", "wait_job", "job_dir", "job_log",
           "job_events"]


def job_dir(workspace: Workspace, job_id: int) -> Path:
    """The folder holding a job's log and any outputs the page asked it to write."""
    return workspace.jobs_dir / str(int(job_id))


def job_log(workspace: Workspace, job_id: int, lines: int = 20) -> str:
    """The tail of a job's combined stdout/stderr."""
    return log_tail(job_dir(workspace, job_id) / "log.txt", lines=lines)


def launch_job(workspace: Workspace, kind: str, argv: Sequence[str], title: str | None = None) -> int:
    """Record a job and start ``python -m core --workspace W --job-id ID <argv...>``.

    ``kind`` is a short category shown in the studio (``"train"``,
    ``"fewshot"``, ``"attack"``...); ``argv`` is the CLI command and its
    options.  Returns the job id immediately; the process runs detached.
    When the job's folder or log cannot be written (permissions, full disk)
    or the process cannot start, the job is recorded as failed with the
    reason and :class:`~core.errors.StorageError` is raised.
    """
    argv = [str(a) for a in argv]
    if not argv:
        raise ConfigError("a job needs a CLI command to run")
    table = JobTable(workspace)
    job_id = table.create(kind, argv, title=title or " ".join(argv[:2]))
    folder = job_dir(workspace, job_id)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        pid = spawn_cli(workspace.root, job_id, argv, folder / "log.txt")
    except OSError as exc:
        reason = clean_message(f"could not start: cannot write its folder or log ({os_error_text(exc)})")
        table.mark_finished(job_id, status=FAILED, exit_code=None, error=reason)
        raise StorageError(f"job #{job_id} {reason}") from exc
    table.set_pid(job_id, pid)
    return job_id


def _refresh(table: JobTable, workspace: Workspace, job: Job) -> Job:
    """Turn an active job whose process is gone into a failed one."""
    if job.status in ACTIVE and job.pid and not pid_alive(job.pid):
        # The process may have finished and written its final status between
        # our read and the liveness check; re-read before declaring it lost.
        fresh = table.get(job.id)
        if fresh is not None and fresh.status in FINAL:
            return fresh
        last = job_log(workspace, job.id, lines=1)
        message = clean_message(STALE_MESSAGE + (f": {last}" if last else ""))
        table.mark_finished(job.id, status=FAILED, exit_code=None, error=message)
        return table.get(job.id) or job
    return job


def get_job(workspace: Workspace, job_id: int) -> Job:
    """One job, with a vanished process reported as failed."""
    table = JobTable(workspace)
    job = table.get(int(job_id))
    if job is None:
        raise ConfigError(f"no job with id {job_id} in this workspace")
    return _refresh(table, workspace, job)


def list_jobs(workspace: Workspace, kind: str | None = None) -> list[Job]:
    """All jobs (newest first), optionally of one kind, stale ones marked failed."""
    table = JobTable(workspace)
    return [_refresh(table, workspace, j) for j in table.list(kind=kind)]


def cancel_job(workspace: Workspace, job_id: int, grace: float = 3.0) -> Job:
    """Mark a job cancelled and SIGTERM its process group (SIGKILL after ``grace`` s)."""
    table = JobTable(workspace)
    job = get_job(workspace, job_id)
    if job.status not in ACTIVE:
        return job
    table.mark_finished(job.id, status=CANCELLED, exit_code=None, error="cancelled")
    if job.pid:
        terminate_group(job.pid, grace=grace)
    return table.get(job.id) or job


def wait_job(workspace: Workspace, job_id: int, timeout: float = 60.0, poll: float = 0.2) -> Job:
    """Block until the job is final or ``timeout`` seconds pass; returns its last state."""
    deadline = time.monotonic() + timeout
    job = get_job(workspace, job_id)
    while job.status not in FINAL and time.monotonic() < deadline:
        time.sleep(poll)
        job = get_job(workspace, job_id)
    return job


def job_events(workspace: Workspace, job_id: int) -> list[dict]:
    """Every progress event the job reported, oldest first (for live curves)."""
    return JobTable(workspace).events(int(job_id))
