"""Accuracy on the CIFAR-10-C files, per corruption × severity (never pooled over severities).

The folder holds one ``<corruption>.npy`` per corruption, ``(N, 32, 32, 3)``
uint8 with the five severities stacked (severity s is rows
``[(s-1)·N/5, s·N/5)``), and ``labels.npy`` of length ``N`` (or ``N/5``,
shared by every severity).  The result is the same :class:`CorruptionResult`
as the synthetic suite's, so reports, tables and heat maps work unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from core.errors import ConfigError, LoadError
from core.progress import ProgressCallback, ProgressEvent
from core.robustness.corruption import CorruptionResult
from core.robustness.curves import predict

__all__ = ["CIFAR10C_SHAPE", "cifar10c_corruptions", "cifar10c_accuracy"]

#: ``(C, H, W)`` a model must accept to be evaluated on CIFAR-10-C.
CIFAR10C_SHAPE: tuple[int, int, int] = (3, 32, 32)
_N_CLASSES = 10
_N_SEVERITIES = 5


@dataclass(frozen=True)
class _CorruptionFile:
    """One validated, memory-mapped ``<corruption>.npy`` and the labels that go with it."""

    name: str
    images: np.ndarray  # (N, 32, 32, 3) uint8, memory-mapped
    labels: np.ndarray  # (N,) int64, in memory (400 kB for the real files)

    @property
    def per_severity(self) -> int:
        return self.images.shape[0] // _N_SEVERITIES


def _open_npy(path: Path) -> np.ndarray:
    # mmap_mode="r": a real file is 50000×32×32×3 = 154 MB; only the rows we
    # evaluate are ever paged in.
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError) as exc:
        raise LoadError(f"CIFAR-10-C: {path.name} is not a readable .npy array ({exc})") from None


def _root(root: str | Path) -> Path:
    path = Path(root).expanduser()
    if not path.is_dir():
        raise LoadError(f"CIFAR-10-C folder not found: {path}")
    if not (path / "labels.npy").is_file():
        raise LoadError(f"CIFAR-10-C folder {path} has no labels.npy")
    return path


def cifar10c_corruptions(root: str | Path) -> list[str]:
    """Names of the ``<corruption>.npy`` files under ``root`` (sorted), ``labels.npy`` excluded.

    Raises :class:`LoadError` if the folder or its ``labels.npy`` is missing, or
    if there is no corruption file at all.  Cheap: nothing is read, so callers
    can validate the folder before hours of training.
    """
    path = _root(root)
    names = sorted(p.stem for p in path.glob("*.npy") if p.is_file() and p.name != "labels.npy")
    if not names:
        raise LoadError(f"CIFAR-10-C folder {path} has labels.npy but no <corruption>.npy file")
    return names


def _open_corruption(root: Path, name: str, labels: np.ndarray) -> _CorruptionFile:
    images = _open_npy(root / f"{name}.npy")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise LoadError(f"CIFAR-10-C: {name}.npy must be uint8 of shape (N, 32, 32, 3), "
                        f"got {images.dtype} {images.shape}")
    n = images.shape[0]
    if n == 0 or n % _N_SEVERITIES:
        raise LoadError(f"CIFAR-10-C: {name}.npy has {n} rows; expected 5 equal severity blocks")
    if labels.shape[0] == n // _N_SEVERITIES:
        # One label per test image, shared by the five severity blocks.
        labels = np.tile(labels, _N_SEVERITIES)
    elif labels.shape[0] != n:
        raise LoadError(f"CIFAR-10-C: labels.npy has {labels.shape[0]} rows but {name}.npy has {n} "
                        f"(expected {n} or {n // _N_SEVERITIES})")
    return _CorruptionFile(name, images, labels)


def _read_labels(root: Path) -> np.ndarray:
    raw = _open_npy(root / "labels.npy")
    if raw.ndim != 1 or raw.shape[0] == 0 or not np.issubdtype(raw.dtype, np.integer):
        raise LoadError(f"CIFAR-10-C: labels.npy must be a non-empty 1-D integer array, "
                        f"got {raw.dtype} {raw.shape}")
    # A copy, not a view of the read-only memory map (torch warns on non-writable arrays).
    labels = np.array(raw, dtype=np.int64)
    if labels.min() < 0 or labels.max() >= _N_CLASSES:
        raise LoadError(f"CIFAR-10-C: labels.npy must hold labels 0..{_N_CLASSES - 1}, "
                        f"got {labels.min()}..{labels.max()}")
    return labels


def _severities(severities: Sequence[int]) -> list[int]:
    values = [int(s) for s in severities]
    if not values:
        raise ConfigError("need at least one severity")
    bad = [s for s in values if not 1 <= s <= _N_SEVERITIES]
    if bad:
        raise ConfigError(f"CIFAR-10-C severities are 1..5, got {bad[0]}")
    if len(set(values)) != len(values):
        raise ConfigError(f"repeated severity in {values}")
    return values


def _block_accuracy(model: nn.Module, data: _CorruptionFile, rows: slice, batch_size: int) -> float:
    """Accuracy on ``images[rows]``, read ``batch_size`` rows at a time from the memory map."""
    correct = 0
    for start in range(rows.start, rows.stop, batch_size):
        stop = min(start + batch_size, rows.stop)
        # (B, 32, 32, 3) uint8 -> (B, 3, 32, 32) float in [0, 1]: the model normalises
        # inside, exactly as in training, so no mean/std here.
        x = torch.from_numpy(np.array(data.images[start:stop])).permute(0, 3, 1, 2).float().div_(255.0)
        y = torch.from_numpy(data.labels[start:stop])
        correct += int((predict(model, x, batch_size) == y).sum())
    return correct / (rows.stop - rows.start)


def cifar10c_accuracy(model: nn.Module, root: str | Path, *, corruptions: Sequence[str] | None = None,
                      severities: Sequence[int] = (1, 2, 3, 4, 5), n_images: int | None = None,
                      batch_size: int = 256, progress: ProgressCallback | None = None) -> CorruptionResult:
    """Accuracy of ``model`` on every requested CIFAR-10-C corruption × severity block.

    Args:
        model: takes ``(B, 3, 32, 32)`` pixels in ``[0, 1]`` (normalisation inside)
            and returns ``(B, 10)`` logits.
        root: folder with ``<corruption>.npy`` and ``labels.npy``.
        corruptions: file stems to evaluate (default: every ``.npy`` but labels).
        severities: subset of 1..5; each is its own cell, never pooled.
        n_images: the first ``n_images`` rows of every severity block (the same
            test images for every corruption and severity); ``None`` or a
            number above the block size means the whole block.
        batch_size: rows read from disk and fed to the model at a time.

    Returns:
        :class:`CorruptionResult` with ``table[corruption][severity]``.

    Raises:
        LoadError: missing folder or ``labels.npy``, a requested corruption
            without a file (the message lists those present), a file of the
            wrong shape/dtype, mismatched label count or labels outside 0..9.
        ConfigError: bad severities, ``n_images`` or ``batch_size``.
    """
    path = _root(root)
    present = cifar10c_corruptions(path)
    names = list(present) if corruptions is None else [str(c) for c in corruptions]
    if not names:
        raise ConfigError("need at least one corruption")
    missing = [c for c in names if c not in present]
    if missing:
        raise LoadError(f"CIFAR-10-C corruption {missing[0]!r} has no file in {path}; "
                        f"present: {', '.join(present)}")
    sev = _severities(severities)
    if n_images is not None and int(n_images) < 1:
        raise ConfigError(f"n_images must be >= 1, got {n_images}")
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    labels = _read_labels(path)
    # Validate every file before evaluating any, so a bad file late in the list
    # fails in a second rather than after an hour of evaluation.
    files = [_open_corruption(path, name, labels) for name in names]
    table: dict[str, dict[int, float]] = {}
    total, step = len(files) * len(sev), 0
    for data in files:
        per = data.per_severity
        n = per if n_images is None else min(int(n_images), per)
        table[data.name] = {}
        for s in sev:
            first = (s - 1) * per
            table[data.name][s] = _block_accuracy(model, data, slice(first, first + n), int(batch_size))
            step += 1
            if progress is not None:
                progress(ProgressEvent("cifar10c", step, total, metrics={"acc": table[data.name][s]},
                                       message=f"{data.name} s{s}"))
    return CorruptionResult(table, sev)
