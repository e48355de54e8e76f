"""Trainer, checkpoints (round trip, corruption, strictness), resume and the train command."""

from __future__ import annotations

import json

import pytest
import torch

from core.datasets import load_dataset
from core.errors import LoadError
from core.models import ARCHITECTURES, ModelConfig, build_model
from core.training import (Checkpoint, TrainConfig, load_checkpoint, save_checkpoint, train, wilson_interval)
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def digits():
    return tuple(load_dataset("digits", s) for s in ("train", "val", "test"))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_beats_chance_after_one_epoch(arch, digits):
    # Every other training image (all classes, ~54 each) in batches of 16: as many
    # steps as a full-data epoch at batch 32, half the compute.
    half = torch.utils.data.Subset(digits[0], range(0, len(digits[0]), 2))
    result = train(ModelConfig(arch=arch), TrainConfig(epochs=1, batch_size=16, lr=3e-3, seed=0),
                   datasets=(half, digits[1], digits[2]))
    # Chance is 10%; measured 0.6-0.95 test accuracy after this one epoch.
    assert result.metrics["test_acc"] > 0.4, result.metrics
    lo, hi = result.metrics["test_acc_ci95"]
    assert lo <= result.metrics["test_acc"] <= hi
    assert not result.model.training


def test_wilson_interval_properties():
    lo, hi = wilson_interval(90, 100)
    assert 0.82 < lo < 0.9 < hi < 0.95
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0


def test_checkpoint_round_trip_identical_outputs(tmp_path, digits):
    model = build_model(ModelConfig(arch="parallel_rot_scale"))
    model.train()
    with torch.no_grad():
        model(digits[0].images[:16])  # non-trivial BatchNorm statistics
    path = save_checkpoint(tmp_path / "m.pt", model, {"test_acc": 0.5}, digits[0].describe(),
                           TrainConfig(epochs=2), epoch=2)
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt, Checkpoint) and not ckpt.model.training
    assert ckpt.config == model.config and ckpt.metrics == {"test_acc": 0.5} and ckpt.epoch == 2
    assert ckpt.split["fingerprint"] == digits[0].fingerprint()
    x = digits[2].images[:8]
    torch.testing.assert_close(ckpt.model(x), model.eval()(x), atol=0, rtol=0)


def test_corrupted_and_mismatched_checkpoints_raise_load_error(tmp_path):
    model = build_model(ModelConfig(arch="baseline"))
    path = save_checkpoint(tmp_path / "m.pt", model)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(LoadError, match="truncated or corrupted"):
        load_checkpoint(truncated)
    with pytest.raises(LoadError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    # Weights of one architecture under another's config: strict loading refuses.
    payload = torch.load(path, weights_only=True)
    payload["model_config"] = json.dumps(ModelConfig(arch="cascaded").to_dict())
    wrong = tmp_path / "wrong.pt"
    torch.save(payload, wrong)
    with pytest.raises(LoadError, match="do not match architecture 'cascaded'"):
        load_checkpoint(wrong)
    payload["model_config"] = json.dumps(ModelConfig(arch="baseline", widths=(8, 16, 16, 32, 64)).to_dict())
    torch.save(payload, wrong)
    with pytest.raises(LoadError, match="do not match"):
        load_checkpoint(wrong)


def test_resume_continues_to_same_weights(tmp_path, digits):
    small = tuple(torch.utils.data.Subset(d, range(n)) for d, n in zip(digits, (192, 64, 64)))
    cfg, model_cfg = TrainConfig(epochs=2, batch_size=32, seed=3), ModelConfig(arch="baseline")
    straight = train(model_cfg, cfg, datasets=small, out=tmp_path / "a")
    train(model_cfg, TrainConfig(epochs=1, batch_size=32, seed=3), datasets=small, out=tmp_path / "b")
    # Resuming needs the full target epoch count; the stored epoch says where to start.
    resumed = train(model_cfg, cfg, datasets=small, out=tmp_path / "b", resume=tmp_path / "b" / "model.pt")
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    assert len(resumed.history) == 2


def test_train_command_writes_checkpoint_and_metrics(tmp_path, workspace):
    out = tmp_path / "run"
    proc = run_cli("--workspace", str(workspace.root), "train", "--model", "baseline", "--epochs", "1",
                   "--seed", "1", "--out", str(out), "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["arch"] == "baseline" and metrics["epochs"] == 1 and metrics["test_acc"] > 0.3
    assert load_checkpoint(out / "model.pt").config.arch == "baseline"
    assert "test accuracy" in proc.stdout
    bad = run_cli("--workspace", str(workspace.root), "train", "--model", "baseline", "--dataset", "cifar10",
                  "--data-root", str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
