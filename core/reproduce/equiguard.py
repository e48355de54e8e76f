"""``reproduce equiguard``: symmetry priors x expert guidance on medical phantoms, attacked, rotated and rescaled.

The experiment that joins the two papers (issue 9, section 4).  Per phantom
(brain, CXR) and cue (none; spurious corner, gradient or stripes, tied to the
class in training patients and random in test patients): backbone ``conv4``
vs the symmetry-aware ``equivariant`` x unguided vs Dice-guided training, plus
RRR guidance on ``conv4``; every condition with the same seeds, so differences
are paired.  Each trained run is measured on held-out patients: clean
accuracy, CAM-ROI Dice and pointing game, accuracy and Dice under the
worst-case attack at two ε, accuracy under 90° and random-angle rotation and
under rescaling.  See :mod:`core.reproduce.equiguard_design` and
``docs/science/equiguard.md``.  Phantoms are synthetic, NOT clinical data.

Outputs in ``--out``: ``results.json`` and ``results.md`` (every condition,
mean ± 95% CI over seeds; paired differences); per-run checkpoints and the
resume cache in ``<out>/runs/`` (git-ignored): an interrupted run resumes.
"""

from __future__ import annotations

import argparse

from core.reproduce.equiguard_design import CUES, DATASETS
from core.reproduce.fewshot import add_grid_arguments, grid_options

NAME = "equiguard"
HELP = ("symmetry-aware vs plain backbone x guided vs unguided few-shot models on the phantoms, under attack, "
        "rotation and rescaling (paired 95% CIs over seeds)")

__all__ = ["NAME", "HELP", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_grid_arguments(parser)
    parser.add_argument("--datasets", nargs="+", default=None, metavar="PHANTOM",
                        help=f"phantoms (default all: {' '.join(DATASETS)})")
    parser.add_argument("--cues", nargs="+", default=None, metavar="CUE", help=f"cues (default all: {' '.join(CUES)})")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.errors import ConfigError
    from core.reproduce.equiguard_experiment import run_equiguard

    options = grid_options(args)
    if options["data_seeds"] != options["train_seeds"]:
        raise ConfigError("this experiment uses each seed as both data and training seed: give --seeds only")
    summary = run_equiguard(Path(args.out), quick=args.quick, seeds=options["data_seeds"],
                            workers=options["workers"], threads=options["threads"], progress=args.progress,
                            datasets=args.datasets, cues=args.cues)
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    print(summary["markdown"])
    print(f"wrote {Path(args.out) / 'results.json'} and results.md")
    return 0
