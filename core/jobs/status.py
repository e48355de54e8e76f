"""Job states and which of them are final."""

__all__ = ["QUEUED", "RUNNING", "DONE", "FAILED", "CANCELLED", "ACTIVE", "FINAL", "STALE_MESSAGE"]

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"

ACTIVE = frozenset({QUEUED, RUNNING})
FINAL = frozenset({DONE, FAILED, CANCELLED})

STALE_MESSAGE = "process ended unexpectedly"
