"""Where the studio keeps its state: the SQLite store, masks, checkpoints, reports.

The default workspace is ``./data`` (relative to the working directory); the
``EQUIGUARD_WORKSPACE`` environment variable or the CLI's ``--workspace``
option points elsewhere.  Tests always use a temporary workspace.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Workspace", "default_workspace_root"]

ENV_VAR = "EQUIGUARD_WORKSPACE"


def default_workspace_root() -> Path:
    """``$EQUIGUARD_WORKSPACE`` if set, else ``./data``."""
    return Path(os.environ.get(ENV_VAR) or "data").expanduser().resolve()


@dataclass(frozen=True)
class Workspace:
    """Paths inside one workspace folder; creating the object creates the folders."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())
        for sub in (self.masks, self.checkpoints, self.reports, self.jobs_dir, self.exports):
            sub.mkdir(parents=True, exist_ok=True)

    @classmethod
    def default(cls) -> "Workspace":
        return cls(default_workspace_root())

    @property
    def db_path(self) -> Path:
        return self.root / "equiguard.sqlite"

    @property
    def masks(self) -> Path:
        return self.root / "masks"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def jobs_dir(self) -> Path:
        """Per-job folders: log files and job outputs."""
        return self.root / "jobs"

    @property
    def exports(self) -> Path:
        return self.root / "exports"
