"""The job operations ``core.jobs`` performs on the store's jobs table.

The store (:class:`core.store.AnnotationStore`) owns the one jobs table; this
adapter names the state transitions so the rest of ``core.jobs`` reads as
the job life cycle rather than as column updates.
"""

from __future__ import annotations

from typing import Any, Sequence

from core.jobs.status import FINAL, QUEUED, RUNNING
from core.store import AnnotationStore, Job, NotFoundError
from core.workspace import Workspace

__all__ = ["JobTable"]


class JobTable:
    """Job rows in one workspace's store."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.store = AnnotationStore(workspace)

    def create(self, kind: str, argv: Sequence[str], title: str) -> int:
        return self.store.create_job(kind, list(argv), title=title)

    def get(self, job_id: int) -> Job | None:
        try:
            return self.store.get_job(job_id)
        except NotFoundError:
            return None

    def list(self, kind: str | None = None) -> list[Job]:
        return self.store.list_jobs(kind)

    def set_pid(self, job_id: int, pid: int) -> None:
        job = self.get(job_id)
        # The child may already have marked itself running (with the same pid).
        if job is not None and job.status == QUEUED:
            self.store.update_job(job_id, pid=int(pid))

    def mark_running(self, job_id: int, pid: int) -> None:
        job = self.get(job_id)
        if job is None or job.status in FINAL:  # cancelled before it started
            return
        self.store.update_job(job_id, status=RUNNING, pid=int(pid))

    def record_events(self, job_id: int, events: Sequence[dict[str, Any]]) -> None:
        self.store.append_job_events(job_id, events)

    def events(self, job_id: int) -> list[dict[str, Any]]:
        return self.store.job_events(job_id)

    def mark_finished(self, job_id: int, status: str, exit_code: int | None, error: str | None) -> None:
        job = self.get(job_id)
        # A final state is never overwritten: a cancelled job stays cancelled
        # even though its process reports "interrupted" on the way out.
        if job is None or job.status in FINAL:
            return
        self.store.update_job(job_id, status=status, exit_code=exit_code, error=error)
