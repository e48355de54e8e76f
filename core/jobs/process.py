"""Detached CLI subprocesses: spawn, liveness, termination, log tails.

A studio job is ``python -m core --workspace W --job-id ID <argv...>`` started
in its own session, so that a browser reload, a Streamlit rerun or even the
Streamlit server going away does not take the job down with it.  Everything
here is about the OS process only; the job's record lives in the store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

__all__ = ["spawn_cli", "cli_command", "pid_alive", "terminate_group", "log_tail"]

# Popen objects of the jobs this process launched.  Holding them lets
# ``pid_alive`` reap finished children; otherwise they would linger as zombies,
# which ``kill(pid, 0)`` reports as alive.
_CHILDREN: dict[int, subprocess.Popen] = {}


def cli_command(workspace_root: Path, job_id: int, argv: Sequence[str]) -> list[str]:
    """The full command line of a job: this interpreter running ``python -m core``."""
    return [sys.executable, "-m", "core", "--workspace", str(workspace_root),
            "--job-id", str(int(job_id)), *[str(a) for a in argv]]


def spawn_cli(workspace_root: Path, job_id: int, argv: Sequence[str], log_path: Path) -> int:
    """Start a job's CLI process detached from the caller; returns its pid.

    stdout and stderr both go to ``log_path``; stdin is closed.  The child is
    the leader of a new session (and process group), so ``terminate_group``
    reaches every process it forks (e.g. DataLoader workers).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    # Two cores are shared by everything; a job should not grab more threads
    # than the machine has just because torch defaults to it.
    env.setdefault("OMP_NUM_THREADS", str(max(1, min(2, os.cpu_count() or 1))))
    with open(log_path, "ab", buffering=0) as log:
        proc = subprocess.Popen(cli_command(workspace_root, job_id, argv), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=str(workspace_root), env=env, close_fds=True)
    _CHILDREN[proc.pid] = proc
    return proc.pid


def _reap(pid: int) -> None:
    proc = _CHILDREN.get(pid)
    if proc is not None and proc.poll() is not None:
        _CHILDREN.pop(pid, None)


def pid_alive(pid: int | None) -> bool:
    """True while process ``pid`` exists and is not a zombie."""
    if not pid or pid <= 0:
        return False
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill()
    # Field 3, after the parenthesised command name (which may contain spaces).
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def _signal_group(pid: int, sig: int) -> bool:
    try:
        os.killpg(pid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        try:
            os.kill(pid, sig)
            return True
        except OSError:
            return False


def terminate_group(pid: int, grace: float = 3.0) -> bool:
    """SIGTERM the job's process group; SIGKILL it if still alive after ``grace`` s.

    Returns True if a signal was delivered (the process existed).
    """
    if not pid_alive(pid):
        return False
    delivered = _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return delivered
        time.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    return delivered


def log_tail(path: Path, lines: int = 20, max_bytes: int = 64_000) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    # tqdm redraws with carriage returns; keep only each line's final state.
    cleaned = [seg.split("\r")[-1] for seg in data.splitlines()]
    cleaned = [c for c in cleaned if c.strip()]
    return "\n".join(cleaned[-lines:])
