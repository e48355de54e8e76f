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
