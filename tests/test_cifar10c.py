"""CIFAR-10-C file-based corruption accuracy: exact cells on a fake folder, errors, and the CLI wiring."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from core.cli import main
from core.datasets import load_cifar10_c
from core.errors import ConfigError, LoadError
from core.models import ModelConfig, build_model
from core.reproduce.equivariance import SETTINGS
from core.robustness import CorruptionResult, accuracy, cifar10c_accuracy, cifar10c_corruptions
from core.training import load_checkpoint, save_checkpoint

PER = 10  # rows per severity block in the fake files (N = 50)
RGB = ModelConfig(arch="baseline", preset="tiny", in_channels=3, num_classes=10, image_size=32,
                  mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


@pytest.fixture(autouse=True)
def _single_thread():
    """The CPU is shared with other jobs; one intra-op thread avoids OpenMP spin-waiting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class BrightnessModel(nn.Module):
    """Predicts class ``floor(10 · mean pixel)`` (clipped to 0..9): its accuracy on a block is known exactly.

    Input ``(B, 3, 32, 32)`` in [0, 1]; output ``(B, 10)`` one-hot logits.
    """

    def forward(self, x: Tensor) -> Tensor:
        k = (x.mean(dim=(1, 2, 3)) * 10).floor().clamp(0, 9).long()
        return nn.functional.one_hot(k, 10).float()


def _grey(label: int) -> int:
    # Constant uint8 level that BrightnessModel maps to `label`: 10·(25k+12)/255 = 0.98k + 0.47 ∈ [k, k+1).
    return 25 * label + 12


# Wrong predictions per severity block: "rising" gets worse with severity, "falling" better,
# so a pooled (severity-averaged) number could not reproduce either row.
WRONG = {"rising": {s: s for s in range(1, 6)}, "falling": {s: 10 - 2 * s for s in range(1, 6)}}


def _write_fake(root, labels_per_block: bool = False) -> np.ndarray:
    """``<name>.npy`` (50, 32, 32, 3) uint8 for each name in WRONG, plus labels.npy; returns the (50,) labels.

    In severity block s of corruption c, the first ``WRONG[c][s]`` images carry the grey
    level of the next class (so the model is wrong), the rest the level of their own class.
    """
    root.mkdir(parents=True, exist_ok=True)
    block_labels = np.arange(PER) % 10
    labels = np.tile(block_labels, 5)
    for name, wrong in WRONG.items():
        images = np.empty((5 * PER, 32, 32, 3), np.uint8)
        for s in range(1, 6):
            for i in range(PER):
                row = (s - 1) * PER + i
                shown = (labels[row] + 1) % 10 if i < wrong[s] else labels[row]
                images[row] = _grey(int(shown))
        np.save(root / f"{name}.npy", images)
    np.save(root / "labels.npy", block_labels if labels_per_block else labels)
    return labels


@pytest.fixture
def fake_root(tmp_path):
    root = tmp_path / "CIFAR-10-C"
    _write_fake(root)
    return root


def test_table_is_exact_per_corruption_and_severity(fake_root):
    result = cifar10c_accuracy(BrightnessModel(), fake_root)
    assert isinstance(result, CorruptionResult)
    assert list(result.table) == ["falling", "rising"] and result.severities == [1, 2, 3, 4, 5]
    for name, wrong in WRONG.items():
        assert result.table[name] == {s: (PER - wrong[s]) / PER for s in range(1, 6)}
    # Not pooled: every severity keeps its own cell, and the rows differ in direction.
    assert result.table["rising"][1] > result.table["rising"][5]
    assert result.table["falling"][1] < result.table["falling"][5]
    cells = [v for row in result.table.values() for v in row.values()]
    assert result.mean == pytest.approx(np.mean(cells))
    assert json.loads(json.dumps(result.to_dict()))["table"]["rising"]["3"] == pytest.approx(0.7)


def test_matches_a_manual_loop_over_load_cifar10_c(fake_root):
    # A real (random-weight) CIFAR-shaped model on noise images, against the per-block dataset
    # loader; batch_size=3 splits every block of 10 into uneven batches.
    rng = np.random.default_rng(3)
    np.save(fake_root / "noise.npy", rng.integers(0, 256, (5 * PER, 32, 32, 3), dtype=np.uint8))
    torch.manual_seed(0)
    model = build_model(RGB).eval()
    result = cifar10c_accuracy(model, fake_root, corruptions=["noise"], severities=(2, 5), batch_size=3)
    assert list(result.table["noise"]) == [2, 5]
    for s in (2, 5):
        block = load_cifar10_c(fake_root, "noise", s)
        assert result.table["noise"][s] == pytest.approx(accuracy(model, block.images, block.labels), abs=1e-6)


def test_first_n_images_of_every_block_and_shared_labels(tmp_path):
    root = tmp_path / "c"
    _write_fake(root, labels_per_block=True)  # labels.npy of length N/5, as some copies ship
    result = cifar10c_accuracy(BrightnessModel(), root, n_images=4, severities=(1, 3, 5))
    # The wrong images sit at the start of each block: the first 4 hold min(wrong, 4) of them.
    for name, wrong in WRONG.items():
        assert result.table[name] == {s: 1 - min(wrong[s], 4) / 4 for s in (1, 3, 5)}
    assert cifar10c_accuracy(BrightnessModel(), root, n_images=10_000).table == \
        cifar10c_accuracy(BrightnessModel(), root).table


def test_progress_reports_every_cell(fake_root):
    events = []
    cifar10c_accuracy(BrightnessModel(), fake_root, severities=(1, 2), progress=events.append)
    assert [(e.step, e.total) for e in events] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert events[0].message == "falling s1" and events[0].metrics["acc"] == 0.2


def test_bad_folders_and_files_raise_load_error(tmp_path, fake_root):
    model = BrightnessModel()
    with pytest.raises(LoadError, match="folder not found"):
        cifar10c_accuracy(model, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LoadError, match="no labels.npy"):
        cifar10c_accuracy(model, tmp_path / "empty")
    with pytest.raises(LoadError, match=r"'fog' has no file .*present: falling, rising"):
        cifar10c_accuracy(model, fake_root, corruptions=["rising", "fog"])
    assert cifar10c_corruptions(fake_root) == ["falling", "rising"]

    np.save(fake_root / "gray.npy", np.zeros((50, 32, 32), np.uint8))
    with pytest.raises(LoadError, match=r"gray.npy must be uint8 of shape \(N, 32, 32, 3\)"):
        cifar10c_accuracy(model, fake_root, corruptions=["gray"])
    np.save(fake_root / "floats.npy", np.zeros((50, 32, 32, 3), np.float32))
    with pytest.raises(LoadError, match="uint8"):
        cifar10c_accuracy(model, fake_root, corruptions=["floats"])
    np.save(fake_root / "odd.npy", np.zeros((49, 32, 32, 3), np.uint8))
    with pytest.raises(LoadError, match="5 equal severity blocks"):
        cifar10c_accuracy(model, fake_root, corruptions=["odd"])
    np.save(fake_root / "short.npy", np.zeros((60, 32, 32, 3), np.uint8))
    with pytest.raises(LoadError, match="labels.npy has 50 rows"):
        cifar10c_accuracy(model, fake_root, corruptions=["short"])
    # Every requested file is checked before any cell is evaluated.
    events = []
    with pytest.raises(LoadError, match="odd.npy"):
        cifar10c_accuracy(model, fake_root, corruptions=["rising", "odd"], progress=events.append)
    assert events == []
    (fake_root / "broken.npy").write_bytes(b"not an npy file")
    with pytest.raises(LoadError, match="broken.npy is not a readable"):
        cifar10c_accuracy(model, fake_root, corruptions=["broken"])
    np.save(fake_root / "labels.npy", np.full(50, 10))
    with pytest.raises(LoadError, match="labels 0..9"):
        cifar10c_accuracy(model, fake_root, corruptions=["rising"])


def test_bad_options_raise_config_error(fake_root):
    for kwargs in ({"severities": (0,)}, {"severities": (6,)}, {"severities": ()}, {"severities": (1, 1)},
                   {"n_images": 0}, {"corruptions": []}, {"batch_size": 0}):
        with pytest.raises(ConfigError):
            cifar10c_accuracy(BrightnessModel(), fake_root, **kwargs)


# ---------------------------------------------------------------- command line


def _fake_cifar10_batches(root) -> None:
    """A tiny ``cifar-10-batches-py`` (5 training batches of 20, a test batch of 10) for the clean curves."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
    for name in names:
        n = 10 if name == "test_batch" else 20
        batch = {b"data": rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8),
                 b"labels": [int(v) for v in np.arange(n) % 10]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [f"c{i}".encode() for i in range(10)]},
                                                       protocol=2))


@pytest.fixture
def cli_setup(tmp_path, fake_root):
    torch.manual_seed(0)
    rgb = save_checkpoint(tmp_path / "rgb.pt", build_model(RGB))
    _fake_cifar10_batches(tmp_path / "cifar")
    return tmp_path, rgb, fake_root


def _transforms(tmp_path, checkpoint, *extra: str) -> int:
    return main(["--workspace", str(tmp_path / "ws"), "transforms", "--checkpoint", str(checkpoint),
                 "--dataset", "cifar10", "--data-root", str(tmp_path / "cifar"), "--n-images", "6",
                 "--angles", "0", "--scales", "1", "--severities", "1,5", *extra])


def test_transforms_takes_the_corruption_table_from_the_files(cli_setup):
    tmp_path, rgb, root = cli_setup
    out = tmp_path / "report.json"
    assert _transforms(tmp_path, rgb, "--cifar10c-root", str(root), "--out", str(out)) == 0
    report = json.loads(out.read_text())
    assert report["corruption_source"] == {"source": "cifar10c", "root": str(root), "n_images_per_cell": 6}
    expected = cifar10c_accuracy(load_checkpoint(rgb).model, root, severities=(1, 5), n_images=6)
    assert report["corruption"] == json.loads(json.dumps(expected.to_dict()))
    assert set(report["corruption"]["table"]) == {"falling", "rising"}


def test_transforms_cifar10c_errors_are_one_line(cli_setup, capsys):
    tmp_path, rgb, root = cli_setup
    grey = save_checkpoint(tmp_path / "grey.pt", build_model(ModelConfig(arch="baseline", preset="tiny")))
    cases = [(grey, str(root), [], "needs a model for 3x32x32 images and 10 classes"),
             (rgb, str(tmp_path / "nowhere"), [], "folder not found"),
             (rgb, str(root), ["--corruptions", "fog"], "present: falling, rising")]
    for checkpoint, croot, extra, message in cases:
        out = tmp_path / "bad.json"
        code = _transforms(tmp_path, checkpoint, "--cifar10c-root", croot, *extra, "--out", str(out))
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and message in err[0], err
        assert not out.exists()


def test_reproduce_equivariance_refuses_cifar10c_on_digits(tmp_path, fake_root, capsys):
    code = main(["--workspace", str(tmp_path / "ws"), "reproduce", "equivariance", "--quick",
                 "--cifar10c-root", str(fake_root), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--cifar10c-root needs --dataset cifar10" in err[0]
    assert not (tmp_path / "out").exists()


def test_reproduce_equivariance_reads_corruptions_from_the_files(tmp_path, fake_root):
    # The quick preset asks for gaussian_noise and contrast at severities 1 and 5.
    for name, source in (("gaussian_noise", "rising"), ("contrast", "falling")):
        (fake_root / f"{name}.npy").write_bytes((fake_root / f"{source}.npy").read_bytes())
    _fake_cifar10_batches(tmp_path / "cifar")
    out = tmp_path / "out"
    assert main(["--workspace", str(tmp_path / "ws"), "reproduce", "equivariance", "--quick", "--dataset",
                 "cifar10", "--data-root", str(tmp_path / "cifar"), "--cifar10c-root", str(fake_root),
                 "--archs", "baseline", "--seeds", "1", "--out", str(out)]) == 0
    run = json.loads((out / "runs" / "baseline-s0.json").read_text())
    summary = json.loads((out / "equivariance.json").read_text())
    assert summary["settings"]["cifar10c_root"] == str(fake_root)
    assert "CIFAR-10-C files (first 32 images" in summary["markdown"]
    model = load_checkpoint(out / "checkpoints" / "baseline-s0" / "model.pt").model
    expected = cifar10c_accuracy(model, fake_root, corruptions=["gaussian_noise", "contrast"],
                                 severities=(1, 5), n_images=32)
    assert run["corruption"] == json.loads(json.dumps(expected.to_dict()))
    # A different corruption source must not reuse the synthetic suite's cached runs (and vice versa).
    settings = SETTINGS["quick"]
    assert replace(settings, cifar10c_root=str(fake_root)).key() != settings.key()
