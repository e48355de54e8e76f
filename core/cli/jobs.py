"""``python -m core jobs``: list, inspect and cancel the studio's background jobs."""

from __future__ import annotations

import argparse
import json

NAME = "jobs"
HELP = "list, show or cancel background jobs of the workspace (and a heartbeat job to check the pipeline)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="jobs, newest first")
    ls.add_argument("--kind", default=None, help="only jobs of this kind (train, fewshot, ...)")
    show = sub.add_parser("show", help="one job as JSON, with its log tail")
    show.add_argument("target", type=int, metavar="JOB_ID")
    cancel = sub.add_parser("cancel", help="stop a queued or running job")
    cancel.add_argument("target", type=int, metavar="JOB_ID")
    after = sub.add_parser("after", help="wait until job JOB_ID has ended, then run COMMAND here if it succeeded "
                                         "(if it failed or was cancelled, COMMAND is not run and this job ends "
                                         "cancelled); the studio uses it to queue jobs on a small machine")
    # Not "job_id": that is the global --job-id of the process running this command.
    after.add_argument("target", type=int, metavar="JOB_ID")
    after.add_argument("command", nargs=argparse.REMAINDER, help="the CLI command and its options")
    after.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    after.add_argument("--any-outcome", action="store_true",
                       help="run COMMAND whatever became of JOB_ID: a queue for CPU time, not a dependency "
                            "(put it before JOB_ID)")
    beat = sub.add_parser("heartbeat", help="report STEPS progress events INTERVAL seconds apart (pipeline check)")
    beat.add_argument("--steps", type=int, default=10)
    beat.add_argument("--interval", type=float, default=0.2)


def run(args: argparse.Namespace) -> int:
    from core.errors import ConfigError
    from core.jobs import cancel_job, get_job, job_log, list_jobs

    if args.action == "list":
        for job in list_jobs(args.workspace, kind=args.kind):
            fraction = "" if job.progress is None else f" {job.progress:.0%}"
            print(f"#{job.id}\t{job.status}{fraction}\t{job.kind}\t{job.title}")
        return 0
    if args.action == "show":
        job = get_job(args.workspace, args.target)
        print(json.dumps({**job.__dict__, "events": None}, indent=2, default=str))
        print(job_log(args.workspace, job.id))
        return 0
    if args.action == "cancel":
        job = cancel_job(args.workspace, args.target)
        print(f"#{job.id} {job.status}")
        return 0
    if args.action == "after":
        return _run_after(args)
    if args.action == "heartbeat":
        import time

        from core.progress import ProgressEvent

        if args.steps < 1 or args.interval < 0:
            raise ConfigError("--steps must be >= 1 and --interval >= 0")
        for step in range(1, args.steps + 1):
            time.sleep(args.interval)
            args.progress(ProgressEvent("heartbeat", step, args.steps, {"value": float(step)}))
        return 0
    raise ConfigError(f"unknown jobs action {args.action!r}")


def _run_after(args: argparse.Namespace) -> int:
    import time

    from core.cli import build_parser
    from core.errors import CancelledError, ConfigError
    from core.jobs import DONE, FINAL, get_job
    from core.progress import ProgressEvent

    command = [c for c in args.command if c != "--"]
    if not command:
        raise ConfigError("jobs after needs a command to run, e.g. jobs after 3 train --model baseline")
    # Parse first, so a bad command fails now rather than after the wait.
    inner = build_parser().parse_args(["--workspace", str(args.workspace.root), *command])
    waited = 0
    while (target := get_job(args.workspace, args.target)).status not in FINAL:
        if waited == 0 or waited % 10 == 0:
            args.progress(ProgressEvent("waiting", 0, None, message=f"waiting for job #{args.target}"))
        time.sleep(args.poll)
        waited += 1
    if target.status != DONE and not args.any_outcome:
        # A chain stops at its first failure: the next step may need what this one should have written.
        raise CancelledError(f"not run: job #{args.target} it was queued behind {target.status}")
    inner.workspace, inner.progress = args.workspace, args.progress
    return inner._run(inner)
