"""`train` under torchrun with 2 processes: DDP (gloo) keeps both ranks' weights identical."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.training import HASH_DIR_ENV, load_checkpoint, state_hash
from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_two_process_ddp_ranks_finish_with_identical_weights(tmp_path):
    hashes, out = tmp_path / "hashes", tmp_path / "out"
    env = dict(os.environ, **{HASH_DIR_ENV: str(hashes)})
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "core", "--workspace", str(tmp_path / "ws"), "train", "--model", "baseline",
           "--epochs", "1", "--seed", "2", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rank0, rank1 = (hashes / "rank0.sha256").read_text(), (hashes / "rank1.sha256").read_text()
    assert rank0 == rank1
    ckpt = load_checkpoint(out / "model.pt")
    assert state_hash(ckpt.model) == rank0
    assert ckpt.metrics["world_size"] == 2
    # Only rank 0 writes: a single checkpoint and metrics file, no stray temporaries.
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "model.pt"]
