"""The OS side of background jobs: detached spawn, liveness, group termination, log tails."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from core.jobs.process import cli_command, log_tail, pid_alive, terminate_group


def _sleeper(tmp_path, seconds: float = 30.0) -> subprocess.Popen:
    # A parent that forks a child, to check that the whole group is reached.
    code = ("import subprocess, sys, time; "
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep({seconds})']); "
            f"time.sleep({seconds})")
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


def test_cli_command_targets_this_interpreter(tmp_path):
    cmd = cli_command(tmp_path, 7, ["train", "--epochs", 1])
    assert cmd[:3] == [sys.executable, "-m", "core"]
    assert cmd[3:7] == ["--workspace", str(tmp_path), "--job-id", "7"]
    assert cmd[7:] == ["train", "--epochs", "1"]


def test_pid_alive_tracks_exit_and_zombies(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    # Not reaped: the child is a zombie once it exits and must count as dead.
    while pid_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(proc.pid)
    proc.wait()
    assert pid_alive(os.getpid())
    assert not pid_alive(None) and not pid_alive(0)


def test_terminate_group_stops_parent_and_children(tmp_path):
    proc = _sleeper(tmp_path)
    time.sleep(0.5)
    children = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) >= 2
    assert terminate_group(proc.pid, grace=2.0)
    proc.wait(timeout=5)
    time.sleep(0.2)
    assert not any(pid_alive(int(p)) for p in children)
    assert not terminate_group(proc.pid)


def test_log_tail_keeps_final_tqdm_state(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("first\nbar 10%\rbar 50%\rbar 100%\n\nlast line\n")
    assert log_tail(log, lines=2) == "bar 100%\nlast line"
    assert log_tail(log, lines=10).splitlines()[0] == "first"
    assert log_tail(tmp_path / "missing.txt") == ""
