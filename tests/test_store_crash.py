"""Durability and concurrency: SIGKILL mid-stream loses nothing acknowledged; parallel writers lose nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from core.store import AnnotationStore, encode_mask

SHAPE = (48, 64)

# The writer saves a stream of ROIs; each line it prints is an acknowledgement:
# the save returned, so the ROI must survive anything that happens next.
WRITER = r"""
import sys
import numpy as np
from core.store import AnnotationStore

def mask(i):
    rng = np.random.default_rng(1000 + i)
    m = rng.random((48, 64)) > 0.7
    m[0, 0] = True  # never empty
    return m

db, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = AnnotationStore(db)
image = store.add_image("ee" * 32, "phantom", shape=(48, 64))
for i in range(count):
    roi = store.add_roi(image, f"lesion-{tag}", mask(i), annotator=f"writer {tag}", uid=f"{tag}-{i}")
    print(roi.id, i, flush=True)
"""

# Each bumper increments a counter stored in one shared ROI's label, retrying on
# stale versions: with optimistic concurrency no increment may be lost.
BUMPER = r"""
import sys
from core.store import AnnotationStore, StaleVersionError
store = AnnotationStore(sys.argv[1])
roi_id, n = int(sys.argv[2]), int(sys.argv[3])
retries = 0
for _ in range(n):
    while True:
        cur = store.get_roi(roi_id)
        try:
            store.update_roi(roi_id, expected_version=cur.version, annotator="bumper",
                             label=str(int(cur.label) + 1))
            break
        except StaleVersionError:
            retries += 1
print(retries, flush=True)
"""


def expected_mask(i: int) -> np.ndarray:
    rng = np.random.default_rng(1000 + i)
    m = rng.random(SHAPE) > 0.7
    m[0, 0] = True
    return m


def spawn(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize("kill_after, delay", [(3, 0.0), (17, 0.004), (40, 0.011)])
def test_sigkill_mid_stream_loses_no_acknowledged_save(workspace, kill_after, delay):
    proc = spawn(WRITER, str(workspace.db_path), "k", "100000")
    acked: list[tuple[int, int]] = []
    while len(acked) < kill_after:
        line = proc.stdout.readline()
        assert line, f"writer died early: {proc.stderr.read()}"
        roi_id, i = map(int, line.split())
        acked.append((roi_id, i))
    time.sleep(delay)  # land the kill somewhere inside a later save
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    acked += [tuple(map(int, line.split())) for line in proc.stdout.read().splitlines()]
    proc.stdout.close()
    proc.stderr.close()

    store = AnnotationStore(workspace.db_path)
    assert store.integrity_check() == "ok"
    for roi_id, i in acked:
        roi = store.get_roi(roi_id)
        assert roi.uid == f"k-{i}" and roi.version == 1
        assert roi.mask_png == encode_mask(expected_mask(i))  # byte-identical
        np.testing.assert_array_equal(roi.mask, expected_mask(i))
        assert [v.op for v in store.roi_history(roi_id)] == ["create"]
    found = store.list_rois()
    # at most the one save in flight at the kill can be present without its acknowledgement
    assert len(acked) <= len(found) <= len(acked) + 1
    # the store keeps working after the crash
    assert store.add_roi(found[0].image_id, "after", expected_mask(0), annotator="t").version == 1


def test_parallel_writer_processes_lose_nothing(workspace):
    n_proc, per_proc = 4, 25
    AnnotationStore(workspace.db_path).close()
    procs = [spawn(WRITER, str(workspace.db_path), f"p{k}", str(per_proc)) for k in range(n_proc)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * n_proc, [err for _, err in outputs]
    acked = [line for out, _ in outputs for line in out.splitlines()]
    assert len(acked) == n_proc * per_proc
    store = AnnotationStore(workspace.db_path)
    assert store.integrity_check() == "ok"
    assert len(store.list_images()) == 1  # every writer registered the same image: one row
    assert store.roi_counts() == {f"lesion-p{k}": per_proc for k in range(n_proc)}
    assert len({roi.id for roi in store.list_rois()}) == n_proc * per_proc
    for roi in store.list_rois():
        np.testing.assert_array_equal(roi.mask, expected_mask(int(roi.uid.split("-")[1])))


def test_parallel_optimistic_updates_count_exactly(workspace):
    store = AnnotationStore(workspace.db_path)
    image = store.add_image("ee" * 32, "phantom", shape=SHAPE)
    roi = store.add_roi(image, "0", expected_mask(0), annotator="t")
    n_proc, per_proc = 3, 15
    procs = [spawn(BUMPER, str(workspace.db_path), str(roi.id), str(per_proc)) for _ in range(n_proc)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * n_proc, [err for _, err in outputs]
    final = store.get_roi(roi.id)
    assert final.label == str(n_proc * per_proc)
    assert final.version == 1 + n_proc * per_proc
    assert [int(v.label) for v in store.roi_history(roi.id)] == list(range(n_proc * per_proc + 1))
