"""``reproduce <name>``: run one of the paper reproductions in ``core.reproduce``."""

from __future__ import annotations

import argparse

NAME = "reproduce"
HELP = "reproduce a paper's experiment at CPU scale (see 'reproduce --help')"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.cli import add_command_parsers

    experiments = parser.add_subparsers(title="experiments", metavar="EXPERIMENT",
                                        parser_class=type(parser))
    experiments.required = True
    add_command_parsers(experiments, "core.reproduce")


def run(args: argparse.Namespace) -> int | None:
    # Never reached: each experiment's parser sets its own ``_run``.
    raise AssertionError("reproduce needs an experiment name")
