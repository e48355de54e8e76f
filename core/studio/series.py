"""Metric series from a job's progress events (for live curves)."""

from __future__ import annotations

from core.workspace import Workspace

__all__ = ["event_series"]


def event_series(workspace: Workspace, job_id: int, stage: str | None = None) -> dict[str, list[tuple[int, float]]]:
    """``{metric: [(x, value), ...]}`` over a job's events, optionally of one stage.

    ``x`` counts reported events per stage cumulatively, so a stage that
    restarts its ``step`` each epoch still gives a monotone axis.
    """
    from core.jobs import job_events

    out: dict[str, list[tuple[int, float]]] = {}
    seen = 0
    for event in job_events(workspace, job_id):
        if stage is not None and event.get("stage") != stage:
            continue
        seen += 1
        for name, value in (event.get("metrics") or {}).items():
            if isinstance(value, (int, float)):
                out.setdefault(name, []).append((seen, float(value)))
    return out
