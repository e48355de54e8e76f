"""The ``equiguard`` / ``python -m core`` command line.

Every module in this package that defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int | None`` becomes a
sub-command; modules whose name starts with ``_`` are skipped.  Command
modules keep heavy imports (torch, pydicom, ...) inside ``run`` so that
``--help`` stays instant.

Global options (``--workspace``, ``--job-id``) are parsed here; ``args.progress``
is the progress callback a command should hand to core functions, and
``args.workspace`` a :class:`core.workspace.Workspace`.

Errors caused by user input (:class:`core.errors.EquiGuardError`, missing or
unreadable files) print ``error: <message>`` on one stderr line and exit 2.
Any other exception is a bug: its traceback is printed *without* the
exception's message (library messages can quote patient data; set
``EQUIGUARD_DEBUG=1`` to see them) and the command exits 1.  Every line
printed here is a :func:`core.errors.clean_message` line, and a job's record
gets the same text.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from types import ModuleType
from typing import Sequence

from core.errors import CancelledError, EquiGuardError, clean_message, os_error_text, safe_traceback

__all__ = ["main", "build_parser", "command_modules"]

USAGE_ERROR = 2
BUG_EXIT = 1
#: Exit code of an interrupted or cancelled command (a job records it as cancelled).
CANCELLED_EXIT = 130
DEBUG_ENV = "EQUIGUARD_DEBUG"


def command_modules(package: str = __name__) -> list[ModuleType]:
    """The command modules found in ``package``, sorted by command name."""
    pkg = importlib.import_module(package)
    found = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        if all(hasattr(module, attr) for attr in ("NAME", "HELP", "add_arguments", "run")):
            found.append(module)
    return sorted(found, key=lambda m: m.NAME)


def add_command_parsers(subparsers: argparse._SubParsersAction, package: str) -> None:
    for module in command_modules(package):
        # argparse %-formats help strings (not descriptions): "95% CI" must not break --help.
        sub = subparsers.add_parser(module.NAME, help=module.HELP.replace("%", "%%"), description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints usage plus the message; we keep it to the message line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(USAGE_ERROR, f"error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrorParser(
        prog="equiguard",
        description="EquiGuard Studio command line: the same functions the studio's pages call.",
    )
    parser.add_argument("--workspace", default=None,
                        help="workspace folder (default: $EQUIGUARD_WORKSPACE or ./data)")
    parser.add_argument("--job-id", type=int, default=None,
                        help="report progress to this job of the workspace's jobs table (set by the studio)")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_OneLineErrorParser)
    subparsers.required = True
    add_command_parsers(subparsers, __name__)
    return parser


def _make_progress(args: argparse.Namespace):
    if args.job_id is not None:
        from core.jobs import JobProgress

        return JobProgress(args.workspace, args.job_id)
    from core.progress import TerminalProgress

    return TerminalProgress()


def _say(text: str) -> None:
    """Write to stderr; a log that cannot be written (full disk, closed pipe) must not mask the error."""
    try:
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    progress = None
    # What a background job's record says when it ends; a crash keeps these.
    code, error = 1, "crashed (see the job log)"
    try:
        from core.workspace import Workspace

        args.workspace = Workspace(args.workspace) if args.workspace else Workspace.default()
        progress = args.progress = _make_progress(args)
        code = int(args._run(args) or 0)
        error = None if code == 0 else f"exited with status {code}"
        return code
    except CancelledError as exc:
        code, error = CANCELLED_EXIT, str(exc)
        _say(f"error: {error}")
        return CANCELLED_EXIT
    except EquiGuardError as exc:
        code, error = USAGE_ERROR, str(exc)
        _say(f"error: {error}")
        return USAGE_ERROR
    except OSError as exc:
        code, error = USAGE_ERROR, os_error_text(exc)
        _say(f"error: {error}")
        return USAGE_ERROR
    except KeyboardInterrupt:
        code, error = CANCELLED_EXIT, "interrupted"
        _say("error: interrupted")
        return CANCELLED_EXIT
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        code, error = BUG_EXIT, clean_message(f"crashed: {type(exc).__name__} (a bug; the traceback is in the log)")
        _say(safe_traceback(exc))
        _say(f"error: {error}")
        return BUG_EXIT
    finally:
        # Job progress reporters record done/failed/cancelled from the exit code.
        finish = getattr(progress, "finish", None)
        if finish is not None:
            finish(code, error)
        close = getattr(progress, "close", None)
        if close is not None:
            close()
