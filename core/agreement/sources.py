"""Which readers' ROIs become an image's training ROI: ``--roi-source``.

* ``union`` — every pixel any reader marked (what the store gave before readers existed);
* ``majority`` — pixels a strict majority of the image's readers marked;
* ``staple`` — STAPLE's estimate of the true mask (probability ≥ 0.5);
* ``consensus`` — the adjudicators' ROIs where an adjudicator drew on the image, STAPLE otherwise;
* ``reader:NAME`` — one reader's ROIs (an image that reader left empty has an empty ROI).

An image with a single reader gets that reader's ROI under every rule but ``reader:``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from core.agreement.consensus import majority_mask, staple, union_mask
from core.errors import ConfigError
from core.store.readers import validate_reader_name

__all__ = ["ROI_SOURCES", "RoiSource", "source_mask"]

ROI_SOURCES = ("union", "majority", "staple", "consensus", "reader:NAME")


@dataclass(frozen=True)
class RoiSource:
    """A parsed ``--roi-source``: ``rule`` in union/majority/staple/consensus/reader; ``reader`` for ``reader:``."""

    rule: str
    reader: str | None = None

    @classmethod
    def parse(cls, text: str) -> "RoiSource":
        value = str(text).strip()
        if value.startswith("reader:"):
            try:
                return cls("reader", validate_reader_name(value[len("reader:"):]))
            except ConfigError as exc:
                raise ConfigError(f"--roi-source reader:NAME: {exc}") from None
        if value in ("union", "majority", "staple", "consensus"):
            return cls(value)
        raise ConfigError(f"unknown ROI source {value!r}; use one of {', '.join(ROI_SOURCES)}")

    def __str__(self) -> str:
        return f"reader:{self.reader}" if self.rule == "reader" else self.rule


def source_mask(masks: Mapping[str, np.ndarray], source: RoiSource | str, shape: tuple[int, int],
                roles: Mapping[str, str] | None = None) -> np.ndarray:
    """The training ROI (H, W) bool of one image from ``{reader: mask}`` (each reader's union of ROIs)."""
    source = RoiSource.parse(source) if isinstance(source, str) else source
    roles = roles or {}
    if source.rule == "reader":
        return np.asarray(masks[source.reader], bool) if source.reader in masks else np.zeros(shape, bool)
    if not masks:
        return np.zeros(shape, bool)
    if len(masks) == 1:
        return np.asarray(next(iter(masks.values())), bool)
    if source.rule == "union":
        return union_mask(list(masks.values()))
    if source.rule == "majority":
        return majority_mask(list(masks.values()))
    if source.rule == "consensus":
        adjudicated = [m for r, m in masks.items() if roles.get(r) == "adjudicator"]
        if adjudicated:
            return union_mask(adjudicated)
    return staple(masks).mask
