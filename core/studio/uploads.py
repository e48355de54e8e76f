"""The studio's upload limit: one configurable size, checked in ``core`` for every upload path.

``EQUIGUARD_MAX_UPLOAD_MB`` (a positive number, default 200) sets it.  The
pages hand :func:`max_upload_mb` to Streamlit's uploader, so the browser
refuses an oversize file before sending it; :func:`check_upload` refuses it
again on the server (the Annotate and Attack lab upload paths both call it)
with one clear message.  Loading itself is further bounded by the loader's
pixel limit (``core.io.load_image(max_pixels=...)``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from core.errors import ConfigError, LoadError

__all__ = ["UPLOAD_LIMIT_ENV", "DEFAULT_MAX_UPLOAD_MB", "max_upload_bytes", "max_upload_mb", "check_upload"]

UPLOAD_LIMIT_ENV = "EQUIGUARD_MAX_UPLOAD_MB"
DEFAULT_MAX_UPLOAD_MB = 200.0


def _limit_mb() -> float:
    raw = os.environ.get(UPLOAD_LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_UPLOAD_MB
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{UPLOAD_LIMIT_ENV} must be a number of MB, got {raw[:20]!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{UPLOAD_LIMIT_ENV} must be a positive number of MB, got {raw[:20]!r}")
    return value


def max_upload_bytes() -> int:
    """The largest upload the studio accepts, in bytes."""
    return int(_limit_mb() * 2**20)


def max_upload_mb() -> int:
    """The limit in whole MB for Streamlit's ``file_uploader(max_upload_size=...)`` (at least 1)."""
    return max(1, math.ceil(_limit_mb()))


def check_upload(data: bytes, name: str) -> None:
    """Raise LoadError (one line, the file's base name only) when ``data`` is over the limit."""
    if len(data) > max_upload_bytes():
        raise LoadError(f"{Path(name).name or 'upload'} is {len(data) / 2**20:,.1f} MB; the studio accepts uploads "
                        f"up to {_limit_mb():g} MB (set {UPLOAD_LIMIT_ENV} to change the limit)")
