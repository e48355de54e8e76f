"""``reproduce fewshot-normalisation``: min-max vs sum vs no CAM normalisation, first vs second order.

Dice-guided training on the brain and CXR phantoms, with and without the
corner cue, for every CAM normalisation (min-max, sum, sigmoid, softmax over
pixels) and both Grad-CAM orders, next to unguided training; accuracy and
CAM-ROI alignment on patient-disjoint test episodes with 95% CIs and paired
differences.  See ``core.fewshot.normalisation_study`` and
``docs/science/fewshot-normalisation.md``.  Phantoms are synthetic, NOT clinical data.

Outputs in ``--out``: ``results.json`` and ``results.md``; per-run checkpoints
in ``<out>/runs/`` (git-ignored).
"""

from __future__ import annotations

import argparse

from core.reproduce.fewshot import add_grid_arguments, grid_options

NAME = "fewshot-normalisation"
HELP = "which CAM normalisation and Grad-CAM order guided few-shot training should use (phantoms, 95% CIs)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_grid_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.errors import ConfigError
    from core.fewshot.normalisation_study import normalisation_study

    options = grid_options(args)
    if options["data_seeds"] != options["train_seeds"]:
        raise ConfigError("this study uses each seed as both data and training seed: give --seeds only")
    summary = normalisation_study(Path(args.out), quick=args.quick, seeds=options["data_seeds"],
                                  workers=options["workers"], threads=options["threads"], progress=args.progress)
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    print(summary["markdown"])
    print(f"wrote {Path(args.out) / 'results.json'} and results.md")
    return 0
