"""``demo``: fill the workspace with bundled sample data and start the demo training jobs."""

from __future__ import annotations

import argparse

NAME = "demo"
HELP = ("fill the workspace offline with demo data (DICOM/NIfTI samples, phantoms with ROIs, digits) "
        "and start background jobs that train the demo models")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--if-empty", action="store_true", help="do nothing when the workspace already has images")
    parser.add_argument("--no-train", action="store_true", help="only add the data; start no training jobs")


def run(args: argparse.Namespace) -> int:
    from core.demo import build_demo

    result = build_demo(args.workspace, train=not args.no_train, if_empty=args.if_empty, progress=args.progress)
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    print(result.describe())
    return 0
