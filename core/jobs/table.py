"""The job operations ``core.jobs`` performs on the store's jobs table.

The store (:class:`core.store.AnnotationStore`) owns the one jobs table; this
adapter names the state transitions so the rest of ``core.jobs`` reads as
the job life cycle rather than as column updates.
"""

from __future__ import annotations

from typing import Any, Sequence

from core.errors import clean_message
from core.jobs.status import ACTIVE, FINAL, QUEUED, RUNNING
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
        # A final state is never overwritten (checked in the same transaction): a
        # cancelled job stays cancelled although its process reports "interrupted".
        # Job errors reach the pages and `jobs show`: one clean line, like every message.
        error = clean_message(error) if error is not None else None
        try:
            self.store.update_job(job_id, only_if_status=ACTIVE, status=status, exit_code=exit_code, error=error)
        except NotFoundError:
            return
