"""Atomic file writes: a reader sees the old file or the complete new one, never half of it.

Everything the studio saves outside SQLite (checkpoints, metrics, reports,
masks, uploads) goes through :func:`atomic_path`: the content is written to a
temporary file in the same folder (same file system, so the final
``os.replace`` is atomic), and the temporary file is removed if writing fails.
The temporary file is fsynced before the rename and the folder after it, so
the new content is on disk, not just in the page cache, when the write
returns: a power cut leaves the old file or the new one, never an empty one.
A killed process (SIGKILL) may leave a dot-prefixed temporary file behind;
the target itself is never half-written.

A write the file system refuses (no space, no permission, read-only,
``RLIMIT_FSIZE``) raises :class:`core.errors.StorageError` naming only the
target's base name.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from core.errors import StorageError, os_error_text

__all__ = ["atomic_path", "write_bytes_atomic", "write_text_atomic", "write_json_atomic", "fsync_path"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_path(path: str | Path) -> None:
    """Flush a file's (or a folder's entries') data to the disk.

    Folders on file systems that cannot fsync them (EINVAL, ENOTSUP) are skipped.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if not (os.path.isdir(path) and exc.errno in (errno.EINVAL, errno.ENOTSUP, errno.EBADF)):
            raise
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``.

    The temporary name keeps ``path``'s suffixes (``.nii.gz``, ``.pt``, ...) for
    writers that choose the format from the extension.  Parent folders are
    created.  The file gets the usual permissions (``0666 & ~umask``) rather
    than ``mkstemp``'s owner-only mode.  Raises StorageError when the file
    system refuses the write, or, with ``overwrite=False``, when ``path``
    exists (checked atomically by a hard link, so a file that appears
    meanwhile is never replaced).
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix="".join(path.suffixes) or ".tmp",
                                    dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        fsync_path(tmp)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise StorageError(f"{path.name} already exists; it was not overwritten") from None
        fsync_path(path.parent)
    except OSError as exc:
        raise StorageError(f"cannot write {path.name}: {os_error_text(exc, with_file=False)}") from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | Path, data: bytes | bytearray | memoryview) -> Path:
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
