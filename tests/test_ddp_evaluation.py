"""`attack` and `clever` under torchrun with 2 ranks (gloo) write the same report as one process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO_ROOT, run_cli


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A baseline trained for one epoch on 300 digits (enough for non-trivial robust accuracy)."""
    from core.datasets import load_dataset
    from core.models import ModelConfig
    from core.training import TrainConfig, train

    out = tmp_path_factory.mktemp("ckpt")
    subsets = []
    for split, n in (("train", 300), ("val", 64), ("test", 64)):
        data = load_dataset("digits", split)
        data.images, data.labels, data.indices = data.images[:n], data.labels[:n], data.indices[:n]
        subsets.append(data)
    torch.manual_seed(0)
    config = ModelConfig(arch="baseline", in_channels=1, num_classes=10, image_size=32)
    train(config, TrainConfig(epochs=1, batch_size=32, device="cpu", seed=0), "digits", out=out,
          datasets=tuple(subsets))
    return out / "model.pt"


def _torchrun(*argv: str, cwd) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "core", *argv]
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def _without(report: dict, *keys: str) -> dict:
    return {k: v for k, v in report.items() if k not in keys}


@pytest.mark.slow
def test_attack_sharded_over_two_ranks_equals_one_process(checkpoint, tmp_path):
    common = ["attack", "--checkpoint", str(checkpoint), "--version", "fast", "--ensemble-steps", "5",
              "--ensemble-queries", "60",
              "--eps", "0,4/255,16/255", "--n-images", "40", "--batch-size", "8", "--seeds", "0,1"]
    single = run_cli("--workspace", str(tmp_path / "ws"), *common, "--out", str(tmp_path / "one.json"))
    assert single.returncode == 0, single.stderr[-2000:]
    ranks = _torchrun("--workspace", str(tmp_path / "ws"), *common, "--out", str(tmp_path / "two.json"), cwd=tmp_path)
    assert ranks.returncode == 0, ranks.stderr[-2000:]
    one, two = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert one["world_size"] == 1 and two["world_size"] == 2
    assert _without(one, "world_size") == _without(two, "world_size")
    # 5 batches of 8 split 3 + 2: both ranks did work, and the report is the whole data set.
    assert sum(one["headline"]["counts"][0].values()) == 40
    assert ranks.stdout.count("wrote ") == 1  # only rank 0 reports and writes


@pytest.mark.slow
def test_clever_sharded_over_two_ranks_equals_one_process(checkpoint, tmp_path):
    common = ["clever", "--checkpoint", str(checkpoint), "--n-images", "3", "--nb-batch", "4", "--batch-size", "8",
              "--bisections", "3"]
    single = run_cli("--workspace", str(tmp_path / "ws"), *common, "--out", str(tmp_path / "one.json"))
    assert single.returncode == 0, single.stderr[-2000:]
    ranks = _torchrun("--workspace", str(tmp_path / "ws"), *common, "--out", str(tmp_path / "two.json"), cwd=tmp_path)
    assert ranks.returncode == 0, ranks.stderr[-2000:]
    one, two = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert _without(one, "world_size") == _without(two, "world_size")
    assert len(one["images"]) == 3 and one["clever_vs_minimal"]["n_images"] == 3


def test_bad_attack_input_is_refused_before_anything_is_written(checkpoint, tmp_path):
    """A 2-class model with targeted DLR, labels beyond its classes, eps in the wrong units: one line, no file."""
    from core.models import ModelConfig, build_model
    from core.training import save_checkpoint

    torch.manual_seed(0)
    two = tmp_path / "two.pt"
    save_checkpoint(two, build_model(ModelConfig(arch="baseline", in_channels=1, num_classes=2, image_size=32)))
    cases = [
        (["--checkpoint", str(two), "--attack", "apgd-t"], "needs at least 4 classes (untargeted DLR needs 3"),
        (["--checkpoint", str(two)], "labels up to 8 but the checkpoint's model has 2 classes"),
        (["--checkpoint", str(checkpoint), "--eps", "0,8"], "must lie in [0, 1]"),
        (["--checkpoint", str(checkpoint), "--norm", "2", "--eps", "40"], "out of range for an L2 attack"),
    ]
    for argv, message in cases:
        res = run_cli("--workspace", str(tmp_path / "ws"), "attack", *argv, "--n-images", "4",
                      "--out", str(tmp_path / "r.json"))
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), res.stderr[-500:]
        assert message in lines[0], lines[0]
        assert not (tmp_path / "r.json").exists() and not list(tmp_path.glob(".r.json*"))
