"""Background jobs end to end: real detached CLI processes reporting into the store's jobs table."""

from __future__ import annotations

import subprocess
import sys
import time

from core.jobs import (CANCELLED, DONE, FAILED, RUNNING, JobProgress, cancel_job, get_job, job_events, job_log,
                       launch_job, list_jobs, wait_job)
from core.jobs.process import pid_alive
from core.progress import ProgressEvent
from core.store import AnnotationStore


def _wait_status(workspace, job_id, status, timeout=30.0):
    deadline = time.monotonic() + timeout
    job = get_job(workspace, job_id)
    while job.status != status and time.monotonic() < deadline:
        time.sleep(0.1)
        job = get_job(workspace, job_id)
    return job


def test_job_reports_progress_and_completes(workspace):
    job_id = launch_job(workspace, "check", ["jobs", "heartbeat", "--steps", "8", "--interval", "0.05"])
    assert get_job(workspace, job_id).status in ("queued", "running", "done")
    job = wait_job(workspace, job_id, timeout=60)
    assert job.status == DONE and job.exit_code == 0 and job.error is None
    assert job.started_at is not None and job.finished_at is not None
    events = job_events(workspace, job_id)
    # Throttling batches writes but never drops an event, and the last one always lands.
    assert [e["step"] for e in events] == list(range(1, 9))
    assert job.last_event["step"] == 8 and job.progress == 1.0
    # "done" is written just before the process exits; it must then go away.
    deadline = time.monotonic() + 10
    while pid_alive(job.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(job.pid)
    assert [j.id for j in list_jobs(workspace, kind="check")] == [job_id]


def test_failing_command_is_recorded_with_its_message(workspace):
    job_id = launch_job(workspace, "check", ["jobs", "heartbeat", "--steps", "0"])
    job = wait_job(workspace, job_id, timeout=60)
    assert job.status == FAILED and job.exit_code == 2
    assert "--steps" in job.error
    assert "error:" in job_log(workspace, job_id)


def test_cancel_stops_a_running_job(workspace):
    job_id = launch_job(workspace, "check", ["jobs", "heartbeat", "--steps", "10000", "--interval", "0.05"])
    job = _wait_status(workspace, job_id, RUNNING)
    assert job.status == RUNNING and pid_alive(job.pid)
    job = cancel_job(workspace, job_id)
    assert job.status == CANCELLED
    assert not pid_alive(job.pid)
    # The process's own exit path must not overwrite the cancellation.
    time.sleep(0.3)
    assert get_job(workspace, job_id).status == CANCELLED
    assert cancel_job(workspace, job_id).status == CANCELLED  # idempotent


def test_job_survives_the_launching_process(workspace):
    code = ("import sys; from core.workspace import Workspace; from core.jobs import launch_job; "
            f"print(launch_job(Workspace({str(workspace.root)!r}), 'check', "
            "['jobs', 'heartbeat', '--steps', '10', '--interval', '0.1']))")
    launcher = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert launcher.returncode == 0, launcher.stderr
    job_id = int(launcher.stdout.strip())
    job = wait_job(workspace, job_id, timeout=60)
    assert job.status == DONE and len(job_events(workspace, job_id)) == 10


def test_vanished_process_is_reported_failed(workspace):
    store = AnnotationStore(workspace)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job_id = store.create_job("check", ["jobs", "heartbeat"], title="orphan")
    store.update_job(job_id, status=RUNNING, pid=dead.pid)
    job = get_job(workspace, job_id)
    assert job.status == FAILED and job.error.startswith("process ended unexpectedly")


def test_job_progress_throttles_writes_but_keeps_the_last_event(workspace, monkeypatch):
    store = AnnotationStore(workspace)
    job_id = store.create_job("check", ["jobs", "heartbeat"], title="in-process")
    reporter = JobProgress(workspace, job_id, min_interval=3600)
    writes = []
    original = reporter._table.record_events
    monkeypatch.setattr(reporter._table, "record_events", lambda jid, evs: (writes.append(len(evs)), original(jid, evs)))
    for step in range(1, 51):
        reporter(ProgressEvent("train", step, 50, {"loss": 1.0 / step}))
    assert store.get_job(job_id).status == RUNNING
    reporter.close()  # a command closing its reporter early (train does) only flushes
    assert store.get_job(job_id).status == RUNNING
    reporter.finish(0)
    reporter.close()
    job = store.get_job(job_id)
    assert writes == [1, 49]  # the early close flushed; the final close had nothing left
    assert job.status == DONE and job.last_event["step"] == 50
    assert [e["metrics"]["loss"] for e in store.job_events(job_id)][-1] == 1.0 / 50


def test_after_queues_a_command_behind_another_job(workspace):
    first = launch_job(workspace, "check", ["jobs", "heartbeat", "--steps", "5", "--interval", "0.2"])
    second = launch_job(workspace, "check", ["jobs", "after", str(first), "jobs", "heartbeat", "--steps", "3",
                                             "--interval", "0.01"])
    done = wait_job(workspace, second, timeout=60)
    assert done.status == DONE
    earlier = get_job(workspace, first)
    assert earlier.status == DONE and earlier.finished_at <= done.finished_at
    steps = [e["step"] for e in job_events(workspace, second) if e["stage"] == "heartbeat"]
    assert steps == [1, 2, 3]
    waits = [e for e in job_events(workspace, second) if e["stage"] == "waiting"]
    assert waits and f"#{first}" in waits[0]["message"]


def test_after_rejects_a_bad_command_before_waiting(workspace):
    job = launch_job(workspace, "check", ["jobs", "after", "999999", "no-such-command"])
    done = wait_job(workspace, job, timeout=60)
    assert done.status == FAILED and "no-such-command" in job_log(workspace, job)


def test_cli_cancel_stops_the_job_and_keeps_its_record(workspace):
    from conftest import run_cli

    job_id = launch_job(workspace, "check", ["jobs", "heartbeat", "--steps", "10000", "--interval", "0.05"])
    job = _wait_status(workspace, job_id, RUNNING)
    result = run_cli("--workspace", str(workspace.root), "jobs", "cancel", str(job_id), timeout=60)
    assert result.returncode == 0 and f"#{job_id} cancelled" in result.stdout
    after = get_job(workspace, job_id)
    # The cancelling process must not have taken the job over (its pid stays the job's own).
    assert after.status == CANCELLED and after.pid == job.pid and not pid_alive(job.pid)
