"""Shared fixtures: a temporary workspace, seeded RNGs, small helpers."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """An empty workspace in a temporary folder, also exported as $EQUIGUARD_WORKSPACE."""
    from core.workspace import Workspace

    root = tmp_path / "workspace"
    monkeypatch.setenv("EQUIGUARD_WORKSPACE", str(root))
    return Workspace(root)


@pytest.fixture(autouse=True, scope="session")
def _one_cpu_thread():
    """One intra-op thread for the suite and the processes it starts.

    The models under test are tiny, so per-op overhead dominates and a second
    thread buys nothing; worse, when tests run subprocesses (CLI jobs, DDP
    ranks, the Streamlit server) next to pytest on 2 cores, OpenMP threads
    spin-wait for each other (measured 10-100x slower).
    """
    import torch

    previous = torch.get_num_threads()
    old_env = os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    yield
    torch.set_num_threads(previous)
    if old_env is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = old_env


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(0)
    np.random.seed(0)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return
    torch.manual_seed(0)


def run_cli(*argv: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    """Run ``python -m core ARGV`` in a subprocess; returns the CompletedProcess."""
    import subprocess

    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "core", *argv], cwd=cwd or REPO_ROOT,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def studio_workspace(tmp_path_factory):
    """A workspace for the studio tests: demo data (no jobs) and two tiny digits checkpoints.

    Built once per session; tests that change it must only add to it.
    """
    import torch

    from core.datasets import load_dataset
    from core.demo import build_demo
    from core.models import ModelConfig
    from core.training import TrainConfig, train
    from core.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("studio") / "workspace")
    build_demo(ws, train=False)
    subsets = []
    for split, n in (("train", 300), ("val", 100), ("test", 100)):
        data = load_dataset("digits", split)
        data.images, data.labels = data.images[:n], data.labels[:n]
        data.indices = data.indices[:n]
        subsets.append(data)
    for arch in ("baseline", "parallel_rot_scale"):
        torch.manual_seed(0)
        config = ModelConfig(arch=arch, in_channels=1, num_classes=10, image_size=subsets[0].image_size)
        train(config, TrainConfig(epochs=1, batch_size=32, device="cpu", seed=0), "digits",
              out=ws.checkpoints / f"{arch}-digits-test", datasets=tuple(subsets))
    return ws


def digits_8x8():
    """sklearn's bundled digits as ``(1797, 1, 8, 8)`` pixels in [0, 1] and ``(1797,)`` labels."""
    import torch
    from sklearn.datasets import load_digits

    data = load_digits()
    return torch.tensor(data.images, dtype=torch.float32)[:, None] / 16.0, torch.tensor(data.target)


def fit_on_digits(model, x, y, *, epochs: int, lr: float, n_train: int = 1200, batch: int = 100):
    """Adam on the first ``n_train`` digits; returns ``model`` in eval mode with no stored grads."""
    import torch
    from torch import nn

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for i in range(0, n_train, batch):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[i:i + batch]), y[i:i + batch]).backward()
            opt.step()
    model.zero_grad(set_to_none=True)
    return model.eval()


def open_page(workspace_root, monkeypatch, page: str):
    """An AppTest of the whole studio on ``workspace_root``, switched to ``page`` (e.g. ``"pages/robustness.py"``)
    and run once without an exception."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EQUIGUARD_WORKSPACE", str(workspace_root))
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
