"""The jobs table: background CLI runs launched by the studio, and their progress events.

Events live in their own append-only table (``job_events``) rather than in
one growing JSON column, so appending is O(1) and a page reading progress
never rewrites the row a worker is updating.  Only the newest
:data:`MAX_JOB_EVENTS` events per job are kept.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Sequence

from core.errors import ConfigError
from core.store.database import Database, utc_now
from core.store.errors import NotFoundError
from core.store.records import FINAL_JOB_STATUSES, JOB_STATUSES, Job, loads

__all__ = ["JobsMixin", "MAX_JOB_EVENTS"]

MAX_JOB_EVENTS = 2000
_COLUMNS = ("id, kind, title, argv, status, pid, progress, last_event, result, result_path, error, exit_code,"
            " created_at, started_at, finished_at")
_UPDATABLE = frozenset({"title", "status", "pid", "progress", "last_event", "result", "result_path", "error",
                        "exit_code", "started_at", "finished_at"})
_JSON_FIELDS = frozenset({"last_event", "result"})


def _job(row: tuple, events: list[dict] | None = None) -> Job:
    (id_, kind, title, argv, status, pid, progress, last_event, result, result_path, error, exit_code,
     created, started, finished) = row
    return Job(id=id_, kind=kind, title=title, argv=json.loads(argv), status=status, pid=pid, progress=progress,
               last_event=loads(last_event), result=loads(result), result_path=result_path, error=error,
               exit_code=exit_code, created_at=created, started_at=started, finished_at=finished, events=events)


def _event_dict(event: Any) -> dict[str, Any]:
    if hasattr(event, "to_dict"):
        event = event.to_dict()
    if not isinstance(event, Mapping):
        raise ConfigError(f"a job event must be a dict or ProgressEvent, got {type(event).__name__}")
    return dict(event)


def _fraction(event: Mapping[str, Any]) -> float | None:
    step, total = event.get("step"), event.get("total")
    if isinstance(step, (int, float)) and isinstance(total, (int, float)) and total > 0:
        return min(1.0, max(0.0, float(step) / float(total)))
    return None


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"job {what} must be JSON-serialisable ({exc})") from None


class JobsMixin:
    """``create_job`` / ``update_job`` / ``append_job_event`` / ``get_job`` / ``list_jobs``."""

    def create_job(self: Database, kind: str, argv: Sequence[str], *, title: str = "") -> int:
        """A new job in status ``queued``; returns its id."""
        if not isinstance(kind, str) or not kind.strip():
            raise ConfigError("job kind must be a non-empty text")
        if isinstance(argv, str) or not all(isinstance(a, str) for a in argv):
            raise ConfigError("job argv must be a list of strings")
        with self._write() as conn:
            cur = conn.execute("INSERT INTO jobs (kind, title, argv, status, created_at) VALUES (?, ?, ?, 'queued', ?)",
                               (kind.strip(), title, json.dumps(list(argv)), utc_now()))
            return int(cur.lastrowid)

    def update_job(self: Database, job_id: int, *, only_if_status: str | Iterable[str] | None = None,
                   **fields: Any) -> Job | None:
        """Set columns of a job (``status``, ``pid``, ``progress``, ``result``, ``error``, ``exit_code`` ...).

        Moving to ``running`` stamps ``started_at`` and to a final status
        (done/failed/cancelled) stamps ``finished_at``, unless given.  With
        ``only_if_status`` the update happens only if the job's status is (one
        of) that, checked in the same transaction; otherwise nothing changes and
        ``None`` is returned (e.g. never overwrite a ``cancelled`` job).
        """
        allowed = None
        if only_if_status is not None:
            allowed = {only_if_status} if isinstance(only_if_status, str) else set(only_if_status)
            if not allowed <= set(JOB_STATUSES):
                raise ConfigError(f"only_if_status must name job statuses, got {sorted(allowed)}")
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ConfigError(f"unknown job field(s): {', '.join(sorted(unknown))}")
        status = fields.get("status")
        if status is not None and status not in JOB_STATUSES:
            raise ConfigError(f"job status must be one of {', '.join(JOB_STATUSES)}, got {status!r}")
        if fields.get("progress") is not None:
            fields["progress"] = min(1.0, max(0.0, float(fields["progress"])))
        values = {k: (_dumps(v, k) if k in _JSON_FIELDS and v is not None else v) for k, v in fields.items()}
        with self._write() as conn:
            row = conn.execute("SELECT started_at, finished_at, status FROM jobs WHERE id = ?",
                               (int(job_id),)).fetchone()
            if row is None:
                raise NotFoundError(f"job {job_id} does not exist in this workspace")
            if allowed is not None and row[2] not in allowed:
                return None
            now = utc_now()
            if status == "running" and row[0] is None and "started_at" not in values:
                values["started_at"] = now
            if status in FINAL_JOB_STATUSES and row[1] is None and "finished_at" not in values:
                values["finished_at"] = now
            if values:
                assignments = ", ".join(f"{k} = ?" for k in values)
                conn.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*values.values(), int(job_id)))
            return _job(conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (int(job_id),)).fetchone())

    def append_job_events(self: Database, job_id: int, events: Iterable[Any]) -> int:
        """Append progress events (dicts or ``ProgressEvent``) in one transaction; returns the last seq.

        Also sets the job's ``last_event`` and, when an event has ``step``/``total``,
        its ``progress`` fraction.
        """
        dicts = [_event_dict(e) for e in events]
        texts = [_dumps(d, "event") for d in dicts]
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM jobs WHERE id = ?", (int(job_id),)).fetchone() is None:
                raise NotFoundError(f"job {job_id} does not exist in this workspace")
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM job_events WHERE job_id = ?",
                               (int(job_id),)).fetchone()[0]
            if not dicts:
                return int(seq)
            conn.executemany("INSERT INTO job_events (job_id, seq, event) VALUES (?, ?, ?)",
                             [(int(job_id), seq + i + 1, t) for i, t in enumerate(texts)])
            seq += len(texts)
            conn.execute("DELETE FROM job_events WHERE job_id = ? AND seq <= ?", (int(job_id), seq - MAX_JOB_EVENTS))
            fractions = [f for f in map(_fraction, dicts) if f is not None]
            if fractions:
                conn.execute("UPDATE jobs SET last_event = ?, progress = ? WHERE id = ?",
                             (texts[-1], fractions[-1], int(job_id)))
            else:
                conn.execute("UPDATE jobs SET last_event = ? WHERE id = ?", (texts[-1], int(job_id)))
            return int(seq)

    def append_job_event(self, job_id: int, event: Any) -> int:
        """Append one progress event; see :meth:`append_job_events`."""
        return self.append_job_events(job_id, [event])

    def job_events(self: Database, job_id: int, after_seq: int = 0) -> list[dict[str, Any]]:
        """Kept events with ``seq > after_seq``, oldest first (each gets a ``"seq"`` key)."""
        rows = self._conn().execute("SELECT seq, event FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq",
                                    (int(job_id), int(after_seq))).fetchall()
        return [{**json.loads(text), "seq": seq} for seq, text in rows]

    def get_job(self: Database, job_id: int, *, events: bool = False) -> Job:
        with self._read() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (int(job_id),)).fetchone()
            if row is None:
                raise NotFoundError(f"job {job_id} does not exist in this workspace")
            history = None
            if events:
                history = [{**json.loads(t), "seq": s} for s, t in conn.execute(
                    "SELECT seq, event FROM job_events WHERE job_id = ? ORDER BY seq", (int(job_id),)).fetchall()]
        return _job(row, history)

    def list_jobs(self: Database, kind: str | None = None, *, status: str | None = None,
                  limit: int | None = None) -> list[Job]:
        """Jobs, newest first."""
        where, args = [], []
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        sql = f"SELECT {_COLUMNS} FROM jobs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_job(r) for r in self._conn().execute(sql, args).fetchall()]
