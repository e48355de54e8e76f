"""Progress reporting shared by the CLI, background jobs and the pages.

Long-running core functions take an optional ``progress`` callback and call it
with a :class:`ProgressEvent`.  The CLI passes a :class:`TerminalProgress`
(a progress bar on stderr); a background job passes a reporter that writes to
the jobs table (``core.jobs``); the pages read that table.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["ProgressEvent", "ProgressCallback", "TerminalProgress", "silent"]


@dataclass
class ProgressEvent:
    """One progress update.

    ``stage`` names the phase (e.g. ``"train"``, ``"eval"``, ``"episode"``);
    ``step`` counts from 1 up to ``total`` (``None`` when unknown);
    ``metrics`` holds JSON-serialisable numbers such as ``loss`` or ``acc``.
    """

    stage: str
    step: int
    total: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, max(0.0, self.step / self.total))

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "step": self.step,
            "total": self.total,
            "metrics": dict(self.metrics),
            "message": self.message,
        }


ProgressCallback = Callable[[ProgressEvent], None]


def silent(event: ProgressEvent) -> None:
    """A progress callback that ignores every event."""


class TerminalProgress:
    """Draws one tqdm bar per stage on stderr; metrics appear as the postfix."""

    def __init__(self, stream=sys.stderr) -> None:
        self._stream = stream
        self._bar = None
        self._stage: str | None = None

    def __call__(self, event: ProgressEvent) -> None:
        from tqdm import tqdm

        if self._bar is None or event.stage != self._stage or event.total != self._bar.total:
            self.close()
            self._stage = event.stage
            self._bar = tqdm(total=event.total, desc=event.stage, file=self._stream,
                             leave=True, dynamic_ncols=True)
        self._bar.n = event.step
        if event.metrics:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in event.metrics.items()}, refresh=False)
        if event.message:
            self._bar.set_description_str(f"{event.stage}: {event.message}", refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
