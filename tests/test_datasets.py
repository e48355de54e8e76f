"""Digits split, CIFAR restricted unpickling, CIFAR-10-C, corruption suite."""

from __future__ import annotations

import numpy as np
import pytest

from core.datasets import SPLITS, load_dataset, stratified_split
from core.errors import ConfigError


def test_digits_splits_disjoint_stratified_and_in_range():
    parts = {s: load_dataset("digits", s) for s in SPLITS}
    assert sum(len(d) for d in parts.values()) == 1797
    idx = [set(d.indices.tolist()) for d in parts.values()]
    assert not (idx[0] & idx[1] or idx[0] & idx[2] or idx[1] & idx[2])
    for d in parts.values():
        assert d.images.shape[1:] == (1, 32, 32) and d.in_channels == 1 and d.image_size == 32
        assert float(d.images.min()) >= 0.0 and float(d.images.max()) <= 1.0
        counts = np.bincount(d.labels.numpy(), minlength=10) / len(d)
        assert np.all(np.abs(counts - 0.1) < 0.03)
    x, y = parts["train"][0]
    assert x.dtype.is_floating_point and isinstance(y, int) and parts["train"].classes[y] == str(y)
    again = load_dataset("digits", "train")
    assert again.fingerprint() == parts["train"].fingerprint()
    assert load_dataset("digits", "train", split_seed=1).fingerprint() != again.fingerprint()


def test_stratified_split_fractions():
    labels = np.repeat(np.arange(3), 50)
    a, b = stratified_split(labels, (0.8, 0.2), seed=0)
    assert len(a) == 120 and len(b) == 30 and not set(a) & set(b)


def test_unknown_names_raise_config_error():
    with pytest.raises(ConfigError):
        load_dataset("mnist")
    with pytest.raises(ConfigError):
        load_dataset("digits", "holdout")


# ---------------------------------------------------------------- CIFAR batches

import os  # noqa: E402
import pickle  # noqa: E402

import torch  # noqa: E402

from core.datasets import (CORRUPTIONS, corrupt, load_cifar10_c, psnr, rescale_images, rotate_images,  # noqa: E402
                           safe_unpickle)
from core.errors import LoadError  # noqa: E402


def _write_batch(path, n, n_classes, label_key=b"labels", seed=0):
    rng = np.random.default_rng(seed)
    batch = {b"batch_label": b"fake", b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             label_key: [int(v) for v in rng.integers(0, n_classes, n)],
             b"filenames": [f"img{i}.png".encode() for i in range(n)]}
    with open(path, "wb") as fh:
        pickle.dump(batch, fh, protocol=2)
    return batch


@pytest.fixture
def fake_cifar10(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    batches = [_write_batch(root / f"data_batch_{i}", 20, 10, seed=i) for i in range(1, 6)]
    test = _write_batch(root / "test_batch", 10, 10, seed=9)
    with open(root / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [n.encode() for n in "abcdefghij"]}, fh, protocol=2)
    return tmp_path, batches, test


def test_cifar10_fake_batches_load_exactly(fake_cifar10):
    root, batches, test = fake_cifar10
    train, val = load_dataset("cifar10", "train", root=root), load_dataset("cifar10", "val", root=root)
    assert len(train) + len(val) == 100 and not set(train.indices) & set(val.indices)
    assert train.classes == list("abcdefghij") and train.in_channels == 3 and train.image_size == 32
    te = load_dataset("cifar10", "test", root=root / "cifar-10-batches-py")
    expected = torch.from_numpy(test[b"data"].reshape(-1, 3, 32, 32)).float() / 255
    torch.testing.assert_close(te.images, expected)
    assert te.labels.tolist() == test[b"labels"]
    # Row i of the training data is image i of the concatenated batches, channel-major.
    first = int(train.indices[0])
    raw = np.concatenate([b[b"data"] for b in batches])[first].reshape(3, 32, 32)
    torch.testing.assert_close(train.images[0], torch.from_numpy(raw).float() / 255)


def test_cifar100_fine_labels(tmp_path):
    root = tmp_path / "c100"
    root.mkdir()
    _write_batch(root / "train", 30, 100, label_key=b"fine_labels")
    test = _write_batch(root / "test", 8, 100, label_key=b"fine_labels", seed=3)
    ds = load_dataset("cifar100", "test", root=root)
    assert ds.num_classes == 100 and ds.labels.tolist() == test[b"fine_labels"]


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_malicious_pickle_is_refused(fake_cifar10, tmp_path):
    root, _, _ = fake_cifar10
    evil = root / "cifar-10-batches-py" / "test_batch"
    with open(evil, "wb") as fh:
        pickle.dump({b"data": _Evil(), b"labels": []}, fh, protocol=2)
    with pytest.raises(LoadError, match="refusing to unpickle"):
        safe_unpickle(evil)
    with pytest.raises(LoadError, match="refusing"):
        load_dataset("cifar10", "test", root=root)


def test_missing_or_broken_cifar_files_name_the_problem(tmp_path, fake_cifar10):
    with pytest.raises(LoadError, match="data_batch_1"):
        load_dataset("cifar10", "train", root=tmp_path / "empty")
    with pytest.raises(LoadError, match="not bundled"):
        load_dataset("cifar100", "train")
    root, _, _ = fake_cifar10
    (root / "cifar-10-batches-py" / "test_batch").write_bytes(b"\x80\x02garbage")
    with pytest.raises(LoadError):
        load_dataset("cifar10", "test", root=root)


# ---------------------------------------------------------------- CIFAR-10-C


def _write_cifar_c(root, n=10, corruption="fog"):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n)
    np.save(root / f"{corruption}.npy", images)
    np.save(root / "labels.npy", labels)
    return images, labels


def test_cifar10_c_severity_blocks(tmp_path):
    images, labels = _write_cifar_c(tmp_path)
    for severity in range(1, 6):
        ds = load_cifar10_c(tmp_path, "fog", severity)
        rows = slice(2 * (severity - 1), 2 * severity)
        torch.testing.assert_close(ds.images, torch.from_numpy(images[rows]).permute(0, 3, 1, 2).float() / 255)
        assert ds.labels.tolist() == labels[rows].tolist()


def test_cifar10_c_errors(tmp_path):
    with pytest.raises(LoadError, match="missing"):
        load_cifar10_c(tmp_path, "fog", 1)
    np.save(tmp_path / "fog.npy", np.zeros((7, 32, 32, 3), np.uint8))
    np.save(tmp_path / "labels.npy", np.zeros(7, np.int64))
    with pytest.raises(LoadError, match="5 equal severity blocks"):
        load_cifar10_c(tmp_path, "fog", 1)
    np.save(tmp_path / "fog.npy", np.zeros((10, 32, 32), np.uint8))
    with pytest.raises(LoadError, match="shape"):
        load_cifar10_c(tmp_path, "fog", 1)
    with pytest.raises(ConfigError):
        load_cifar10_c(tmp_path, "fog", 6)


# ---------------------------------------------------------------- corruptions


@pytest.fixture(scope="module")
def digit_batch():
    return load_dataset("digits", "test").images[:32]


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruption_deterministic_in_range_and_monotone(name, digit_batch):
    rgb = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    for x in (digit_batch, rgb):
        outs = [corrupt(x, name, s, seed=5) for s in range(1, 6)]
        for out in outs:
            assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
        torch.testing.assert_close(corrupt(x, name, 3, seed=5), outs[2])
        scores = [psnr(x, o) for o in outs]
        assert all(a > b for a, b in zip(scores, scores[1:])), (name, scores)
        assert scores[0] < 60  # severity 1 already changes the image


def test_corrupt_numpy_in_numpy_out(digit_batch):
    out = corrupt(digit_batch.numpy(), "gaussian_noise", 2, seed=1)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, corrupt(digit_batch, "gaussian_noise", 2, seed=1).numpy())
    assert not np.allclose(out, corrupt(digit_batch.numpy(), "gaussian_noise", 2, seed=2))
    with pytest.raises(ConfigError):
        corrupt(digit_batch, "snow", 1)


def test_rotate_and_rescale_geometry(digit_batch):
    x = digit_batch
    torch.testing.assert_close(rotate_images(x, 90), torch.rot90(x, 1, dims=(2, 3)))
    # General path at (almost) 90 degrees agrees with the exact permutation away from the border.
    near = rotate_images(x, 90 + 1e-7)
    torch.testing.assert_close(near[..., 1:-1, 1:-1], torch.rot90(x, 1, (2, 3))[..., 1:-1, 1:-1], atol=1e-4, rtol=0)
    back = rotate_images(rotate_images(x, 20), -20)
    assert psnr(x, back) > 20
    half = rescale_images(x, 0.5)
    assert float(half[..., :8, :].abs().max()) == 0  # zoomed out: empty border
    torch.testing.assert_close(half.sum(dim=(2, 3)) * 4, x.sum(dim=(2, 3)), atol=0.05 * float(x.sum()) / len(x), rtol=0.05)
    zoomed = rescale_images(x, 2.0)
    torch.testing.assert_close(zoomed[..., 15:17, 15:17].mean(), x[..., 15:17, 15:17].mean(), atol=0.1, rtol=0)
