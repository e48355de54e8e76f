"""CIFAR-10 / CIFAR-100 from the python pickle batches, read with a restricted unpickler.

The batches are untrusted files: ``pickle.load`` would run any callable a
file names.  :class:`RestrictedUnpickler` resolves only the few globals that
numpy array reconstruction needs and refuses everything else.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.datasets.base import SPLITS, ImageDataset, stratified_split
from core.errors import ConfigError, LoadError

__all__ = ["RestrictedUnpickler", "safe_unpickle", "load_cifar", "CIFAR_FILES", "CIFAR_VAL_FRACTION"]

CIFAR_VAL_FRACTION = 0.1

CIFAR_FILES: dict[str, dict[str, Any]] = {
    "cifar10": {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"],
                "meta": "batches.meta", "labels": b"labels", "names": b"label_names", "folder": "cifar-10-batches-py"},
    "cifar100": {"train": ["train"], "test": ["test"], "meta": "meta", "labels": b"fine_labels",
                 "names": b"fine_label_names", "folder": "cifar-100-python"},
}


def _allowed_globals() -> dict[tuple[str, str], Any]:
    import _codecs

    from numpy._core import multiarray

    return {
        ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        # Python 3 writes bytes in protocol-2 pickles as _codecs.encode(str, 'latin1').
        ("_codecs", "encode"): _codecs.encode,
    }


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that builds only dict/list/str/bytes/int/float and numpy arrays."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _allowed_globals()
        if (module, name) not in allowed:
            raise LoadError(f"refusing to unpickle {module}.{name}: not a plain CIFAR batch")
        return allowed[(module, name)]


def safe_unpickle(path: Path) -> Any:
    """Load a pickle with :class:`RestrictedUnpickler` (bytes keys kept as bytes)."""
    try:
        with open(path, "rb") as fh:
            return RestrictedUnpickler(fh, encoding="bytes").load()
    except LoadError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise LoadError(f"{path.name} is not a readable CIFAR batch ({type(exc).__name__}: {exc})") from None


def _find_folder(root: Path, name: str) -> Path:
    spec = CIFAR_FILES[name]
    for candidate in (root, root / spec["folder"]):
        if all((candidate / f).is_file() for f in spec["train"] + spec["test"]):
            return candidate
    expected = ", ".join(spec["train"] + spec["test"] + [spec["meta"]])
    raise LoadError(f"{name}: could not find {expected} in {root} (or {root / spec['folder']})")


def _read_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    batch = safe_unpickle(path)
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        raise LoadError(f"{path.name}: expected a dict with b'data' and {label_key!r}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise LoadError(f"{path.name}: b'data' must be uint8 of shape (N, 3072), got {data.dtype} {data.shape}")
    if labels.shape != (data.shape[0],):
        raise LoadError(f"{path.name}: {data.shape[0]} images but {labels.shape[0]} labels")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar(name: str, root: str | Path | None, split: str = "train", split_seed: int = 0) -> ImageDataset:
    """CIFAR-10 (``cifar10``) or CIFAR-100 fine labels (``cifar100``); x (3, 32, 32) in [0, 1].

    ``train``/``val`` are a stratified 90/10 split of the training batches
    (fixed by ``split_seed``); ``test`` is the official test batch.
    """
    if name not in CIFAR_FILES:
        raise ConfigError(f"unknown CIFAR variant {name!r}")
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    spec = CIFAR_FILES[name]
    if root is None:
        raise LoadError(f"{name} is not bundled: pass a data root holding {spec['folder']}/ "
                        f"({', '.join(spec['train'] + spec['test'])})")
    folder = _find_folder(Path(root).expanduser(), name)
    files = spec["test"] if split == "test" else spec["train"]
    parts = [_read_batch(folder / f, spec["labels"]) for f in files]
    data = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    indices = np.arange(len(labels))
    if split != "test":
        train_idx, val_idx = stratified_split(labels, (1 - CIFAR_VAL_FRACTION, CIFAR_VAL_FRACTION), split_seed)
        indices = train_idx if split == "train" else val_idx
    meta_path = folder / spec["meta"]
    n_classes = 10 if name == "cifar10" else 100
    classes = [str(i) for i in range(n_classes)]
    if meta_path.is_file():
        meta = safe_unpickle(meta_path)
        names = meta.get(spec["names"]) if isinstance(meta, dict) else None
        if isinstance(names, list) and len(names) == n_classes:
            classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    images = torch.from_numpy(data[indices]).float().div_(255.0)
    return ImageDataset(name, split, images, torch.from_numpy(labels[indices]), classes,
                        indices=indices, split_seed=split_seed if split != "test" else None)
