"""Atomic file writes: a reader sees the old file or the complete new one, never half of it.

Everything the studio saves outside SQLite (checkpoints, metrics, reports,
masks, uploads) goes through :func:`atomic_path`: the content is written to a
temporary file in the same folder (same file system, so the final
``os.replace`` is atomic), and the temporary file is removed if writing fails.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = ["atomic_path", "write_bytes_atomic", "write_text_atomic", "write_json_atomic"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``.

    The temporary name keeps ``path``'s suffixes (``.nii.gz``, ``.pt``, ...) for
    writers that choose the format from the extension.  Parent folders are
    created.  The file gets the usual permissions (``0666 & ~umask``) rather
    than ``mkstemp``'s owner-only mode.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix="".join(path.suffixes) or ".tmp",
                                dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | Path, data: Any, *, indent: int = 2) -> Path:
    """Strict JSON (``allow_nan=False``: NaN is not JSON), newline-terminated."""
    return write_text_atomic(path, json.dumps(data, indent=indent, allow_nan=False) + "\n")
