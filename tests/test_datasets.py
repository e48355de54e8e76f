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
