"""Jobs survive faults: SIGKILL mid-epoch and mid-checkpoint-write, failed dependencies, unwritable folders.

The file-system faults run the job's process in a private mount namespace
(``unshare -rm``) where its output or log folder is a read-only or a 64 KiB
tmpfs; where that is not allowed, a size limit (``RLIMIT_FSIZE``) stands in
for the full disk and ``chmod`` for the permissions.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO_ROOT, run_cli
from core.errors import StorageError
from core.jobs import CANCELLED, DONE, FAILED, RUNNING, get_job, job_events, launch_job, wait_job
from core.jobs.process import pid_alive
from core.store import AnnotationStore
from core.training import load_checkpoint

TRAIN = ["train", "--model", "baseline", "--epochs", "3", "--seed", "5", "--threads", "1"]


def _can_mount() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


CAN_MOUNT = _can_mount()


@pytest.fixture(autouse=True)
def _no_job_left_running(workspace):
    """A failed assertion must not leave a job process running on the shared machine."""
    yield
    from core.jobs import cancel_job, list_jobs

    for job in list_jobs(workspace):
        if job.status in ("queued", "running"):
            cancel_job(workspace, job.id, grace=1.0)


def _wait(predicate, timeout: float = 180.0, poll: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError("condition not reached in time")


def _kill(job_id: int, workspace) -> None:
    os.killpg(get_job(workspace, job_id).pid, signal.SIGKILL)


def _temp_checkpoints(folder: Path) -> list[str]:
    try:
        return [n for n in os.listdir(folder) if n.startswith(".model.pt.")]
    except FileNotFoundError:
        return []


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.slow
def test_sigkilled_training_job_fails_keeps_its_checkpoint_and_resumes_to_the_same_weights(workspace, tmp_path):
    reference, out = tmp_path / "reference", tmp_path / "killed"
    straight = subprocess.Popen([sys.executable, "-m", "core", "--workspace", str(workspace.root), *TRAIN,
                                 "--out", str(reference)], cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    # 1. SIGKILL in the middle of epoch 2.
    first = launch_job(workspace, "train", [*TRAIN, "--out", str(out)])
    _wait(lambda: any(e["metrics"].get("epoch") == 2 and "acc" in e["metrics"] for e in job_events(workspace, first)))
    _kill(first, workspace)
    job = _wait(lambda: (j := get_job(workspace, first)).status != RUNNING and j)
    assert job.status == FAILED and "ended unexpectedly" in job.error
    assert load_checkpoint(out / "model.pt").epoch == 1  # the epoch-1 checkpoint is intact
    # 2. Resumed, then SIGKILLed while its next checkpoint is being written.
    second = launch_job(workspace, "train", [*TRAIN, "--out", str(out), "--resume", str(out / "model.pt")])
    temps = _wait(lambda: _temp_checkpoints(out), poll=0)
    _kill(second, workspace)
    job = _wait(lambda: (j := get_job(workspace, second)).status != RUNNING and j)
    assert job.status == FAILED
    left = load_checkpoint(out / "model.pt")  # loads: never half-written
    assert left.epoch in (1, 2)
    assert _temp_checkpoints(out) == temps or left.epoch == 2  # the kill landed inside the write
    # 3. A last resume finishes: the same weights as the run nobody interrupted.
    done = run_cli("--workspace", str(workspace.root), *TRAIN, "--out", str(out), "--resume", str(out / "model.pt"))
    assert done.returncode == 0, done.stderr
    assert straight.wait(timeout=600) == 0
    assert _same_weights(load_checkpoint(out / "model.pt").model, load_checkpoint(reference / "model.pt").model)


def _checkpoint_writer(path: Path, ack_fd: int) -> None:  # pragma: no cover - runs in a forked child
    """Rewrite a 7 MB checkpoint forever, acknowledging each completed save as "epoch hash"."""
    from core.models import ModelConfig, build_model
    from core.training.checkpoint import save_checkpoint, state_hash

    model = build_model(ModelConfig(arch="baseline", preset="paper", in_channels=1, num_classes=10, image_size=32))
    for i in range(10**6):
        torch.manual_seed(i)
        for p in model.parameters():
            p.data.normal_()
        save_checkpoint(path, model, {"i": i}, epoch=i)
        os.write(ack_fd, f"{i} {state_hash(model)}\n".encode())


def test_sigkill_during_checkpoint_writes_never_leaves_a_broken_checkpoint(tmp_path):
    """A 7 MB checkpoint rewritten in a loop, SIGKILLed the moment a temporary file appears, 8 times."""
    from core.training.checkpoint import state_hash

    path, inside = tmp_path / "model.pt", 0
    for _ in range(8):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the writer
            os.close(read_fd)
            try:
                _checkpoint_writer(path, write_fd)
            finally:
                os._exit(1)
        os.close(write_fd)
        acks = os.fdopen(read_fd)
        acked = [acks.readline().split() for _ in range(2)]  # two complete saves first
        _wait(lambda: _temp_checkpoints(tmp_path), poll=0)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        acked += [line.split() for line in acks.read().splitlines()]
        acks.close()
        left = load_checkpoint(path)
        last_epoch, last_hash = int(acked[-1][0]), acked[-1][1]
        assert left.epoch in (last_epoch, last_epoch + 1)  # the acknowledged save, or the one just renamed
        if left.epoch == last_epoch:
            assert state_hash(left.model) == last_hash
        stale = _temp_checkpoints(tmp_path)
        inside += bool(stale)
        for name in stale:
            (tmp_path / name).unlink()
    print(f"\n{inside} of 8 kills landed inside a checkpoint write")
    assert inside >= 4  # most kills landed inside a write, which left its temporary file, not model.pt


def test_a_job_queued_behind_a_failed_or_cancelled_one_is_cancelled_with_the_reason(workspace):
    failing = launch_job(workspace, "check", ["jobs", "heartbeat", "--steps", "0"])
    after_failed = launch_job(workspace, "check", ["jobs", "after", str(failing), "jobs", "heartbeat", "--steps", "2",
                                                   "--interval", "0"])
    chained = launch_job(workspace, "check", ["jobs", "after", str(after_failed), "jobs", "heartbeat", "--steps", "2"])
    long = launch_job(workspace, "check", ["jobs", "heartbeat", "--steps", "10000", "--interval", "0.05"])
    after_cancelled = launch_job(workspace, "check", ["jobs", "after", str(long), "jobs", "heartbeat", "--steps", "2"])
    queued_only = launch_job(workspace, "check", ["jobs", "after", "--any-outcome", str(failing), "jobs", "heartbeat",
                                                  "--steps", "2", "--interval", "0"])
    _wait(lambda: get_job(workspace, long).status == RUNNING)
    from core.jobs import cancel_job

    cancel_job(workspace, long)
    for job_id, reason in ((after_failed, f"job #{failing} it was queued behind failed"),
                           (chained, f"job #{after_failed} it was queued behind cancelled"),
                           (after_cancelled, f"job #{long} it was queued behind cancelled")):
        job = wait_job(workspace, job_id, timeout=120)
        assert job.status == CANCELLED and job.error == f"not run: {reason}", (job.status, job.error)
        assert not [e for e in job_events(workspace, job_id) if e["stage"] == "heartbeat"]  # never ran
    assert get_job(workspace, failing).status == FAILED
    # A queue for CPU time rather than a dependency (the demo's independent runs) runs anyway.
    assert wait_job(workspace, queued_only, timeout=120).status == DONE
    assert [e["step"] for e in job_events(workspace, queued_only) if e["stage"] == "heartbeat"] == [1, 2]


def _store_with_an_roi(workspace) -> tuple[AnnotationStore, bytes]:
    store = AnnotationStore(workspace)
    image = store.add_image("cd" * 32, "phantom", shape=(16, 16))
    mask = np.zeros((16, 16), bool)
    mask[4:9, 3:12] = True
    return store, store.add_roi(image, "lesion", mask, annotator="t").mask_png


def _store_intact(workspace, mask_png: bytes) -> None:
    store = AnnotationStore(workspace)
    assert store.integrity_check() == "ok"
    assert [r.mask_png for r in store.list_rois()] == [mask_png]


def _start_job_process(workspace, job_id: int, argv: list[str], *, mounts=(), fsize: int | None = None):
    """Start what ``spawn_cli`` runs, with ``mounts`` [(folder, tmpfs options)] in its own mount namespace."""
    command = [sys.executable, "-m", "core", "--workspace", str(workspace.root), "--job-id", str(job_id), *argv]
    if mounts:
        setup = " && ".join(f"mount -t tmpfs -o {opts} tmpfs {shlex.quote(str(p))}" for p, opts in mounts)
        command = ["unshare", "-rm", "sh", "-c", f"{setup} && exec {shlex.join(command)}"]

    def limit():  # pragma: no cover - runs in the child
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=limit if fsize else None)


def test_unwritable_job_folder_fails_the_launch_clearly(workspace):
    store, mask_png = _store_with_an_roi(workspace)
    if CAN_MOUNT:
        code = ("from core.workspace import Workspace\nfrom core.jobs import launch_job\nimport sys\n"
                f"launch_job(Workspace({str(workspace.root)!r}), 'check', ['jobs', 'heartbeat'])\n")
        setup = f"mount -t tmpfs -o ro tmpfs {shlex.quote(str(workspace.jobs_dir))}"
        done = subprocess.run(["unshare", "-rm", "sh", "-c", f"{setup} && exec {shlex.join([sys.executable, '-c', code])}"],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        assert "StorageError" in done.stderr and "could not start" in done.stderr
    else:
        if os.geteuid() == 0:
            pytest.skip("running as root without mount namespaces: no way to make a folder unwritable")
        workspace.jobs_dir.chmod(0o500)
        try:
            with pytest.raises(StorageError, match="could not start"):
                launch_job(workspace, "check", ["jobs", "heartbeat"])
        finally:
            workspace.jobs_dir.chmod(0o700)
    (job,) = store.list_jobs()
    assert job.status == FAILED and job.error.startswith("could not start: cannot write its folder or log")
    _store_intact(workspace, mask_png)


@pytest.mark.slow
def test_unwritable_output_folder_fails_the_job_clearly(workspace, tmp_path):
    """Read-only and full output folders, one training job each (run side by side)."""
    store, mask_png = _store_with_an_roi(workspace)
    runs = {}
    for fault in ("read-only", "full"):
        out = tmp_path / fault
        out.mkdir()
        job_id = store.create_job("train", ["train"], title=f"{fault} output")
        argv = ["train", "--model", "baseline", "--epochs", "1", "--threads", "1", "--out", str(out)]
        if CAN_MOUNT:
            proc = _start_job_process(workspace, job_id, argv, mounts=[(out, "ro" if fault == "read-only" else "size=64k")])
            expected = "Read-only file system" if fault == "read-only" else "No space left on device"
        elif fault == "full":
            proc = _start_job_process(workspace, job_id, argv, fsize=64 * 1024)
            expected = "File too large"
        elif os.geteuid() != 0:
            out.chmod(0o500)
            proc = _start_job_process(workspace, job_id, argv)
            expected = "Permission denied"
        else:
            continue  # root without mount namespaces: no way to make a folder unwritable
        runs[fault] = (job_id, proc, expected)
    assert "full" in runs
    for fault, (job_id, proc, expected) in runs.items():
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 2 and stderr.strip().splitlines()[-1] == (
            f"error: cannot write model.pt: {expected}"), stderr[-500:]
        job = get_job(workspace, job_id)
        assert job.status == FAILED and job.error == f"cannot write model.pt: {expected}"
    _store_intact(workspace, mask_png)


@pytest.mark.skipif(not CAN_MOUNT, reason="needs a mount namespace for a full tmpfs log folder")
def test_a_full_log_disk_still_records_why_the_job_failed(workspace):
    store, mask_png = _store_with_an_roi(workspace)
    job_id = store.create_job("check", ["inspect"], title="full log")
    folder = workspace.jobs_dir / str(job_id)
    folder.mkdir()
    log = folder / "log.txt"
    fill = f"dd if=/dev/zero of={shlex.quote(str(folder / 'filler'))} bs=4k 2>/dev/null; true"
    command = [sys.executable, "-m", "core", "--workspace", str(workspace.root), "--job-id", str(job_id),
               "inspect", "missing.dcm"]
    script = (f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(str(folder))} && {fill} && "
              f"touch {shlex.quote(str(log))}; exec {shlex.join(command)} >> {shlex.quote(str(log))} 2>&1")
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    job = get_job(workspace, job_id)
    assert job.status == FAILED and job.error == "missing.dcm: file not found"
    assert not pid_alive(job.pid)
    _store_intact(workspace, mask_png)
