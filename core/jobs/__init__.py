"""Background jobs: CLI commands run as detached subprocesses, tracked in the store.

Public API::

    launch_job(workspace, kind, argv, title=None) -> job_id
    get_job(workspace, job_id) -> Job          # vanished process -> failed
    list_jobs(workspace, kind=None) -> [Job]   # newest first
    job_events(workspace, job_id) -> [event dict]    # ProgressEvent.to_dict() + "time"
    cancel_job(workspace, job_id, grace=3.0) -> Job
    wait_job(workspace, job_id, timeout=60.0) -> Job
    job_dir(workspace, job_id) -> Path               # log.txt and job outputs
    job_log(workspace, job_id, lines=20) -> str
    JobProgress(workspace, job_id)                   # the CLI's reporter under --job-id
"""

from core.jobs.manager import (cancel_job, get_job, job_dir, job_events, job_log, launch_job,
                               list_jobs, wait_job)
from core.jobs.progress import JobProgress
from core.jobs.status import ACTIVE, CANCELLED, DONE, FAILED, FINAL, QUEUED, RUNNING
from core.store import Job

__all__ = [
    "launch_job", "get_job", "list_jobs", "job_events", "cancel_job", "wait_job", "job_dir",
    "job_log", "JobProgress", "Job",
    "QUEUED", "RUNNING", "DONE", "FAILED", "CANCELLED", "ACTIVE", "FINAL",
]
