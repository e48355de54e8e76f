"""``reproduce fewshot``: expert guidance vs none on the brain and CXR phantoms.

Grid: {brain, CXR phantom} x {no cue, spurious corner cue} x arms x seeds, where
the arms are unguided prototypical training, Dice-guided training with the
paper's Grad-CAM target (-distance to the true prototype) and Dice-guided
training with the episode log-probability target, second order, and the
log-probability arm with first-order Grad-CAM.  Seeds follow a star design:
every data seed with the first training seed and the first data seed with
every training seed, so the spread over data and over initialisation are
reported separately.  Every run trains on training patients and is evaluated
on held-out patients, with support and query of every test episode drawn
from different patients (and, for comparison, on same-patient episodes).
Phantoms are synthetic, NOT clinical data.

Every run is also explained by occlusion and Integrated Gradients, which no
training loss sees, next to Grad-CAM/Grad-CAM++: ROI alignment, the cascading
randomisation check and deletion/insertion AUC (a section of ``results.md``;
``--no-explanation-checks`` skips it).

Outputs in ``--out``: ``results.json``, ``results.md`` (table), ``figure.html``
(plotly) and ``gallery.png`` (Grad-CAM overlays, unguided vs guided).
Per-run checkpoints and metrics go to ``<out>/runs/``, which carries its own
``.gitignore``: they stay on disk for later analyses and are never committed.
"""

from __future__ import annotations

import argparse

from core.cli.fewshot import seed_arg

NAME = "fewshot"
HELP = "expert-guided vs unguided few-shot learning on the brain/CXR phantoms (accuracy and CAM-ROI Dice with 95% CIs)"


def add_grid_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by the few-shot grids: output, seeds, processes and threads."""
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one seed (about a minute)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--data-seeds", type=seed_arg("data seed"), nargs="+", default=None,
                        help="data seeds (default 0 1 2; quick: 0)")
    parser.add_argument("--train-seeds", type=seed_arg("training seed"), nargs="+", default=None,
                        help="training seeds (default 0 1 2; quick: 0)")
    parser.add_argument("--seeds", type=seed_arg("seed"), nargs="+", default=None,
                        help="shorthand: the same list for --data-seeds and --train-seeds")
    parser.add_argument("--workers", type=int, default=2, help="parallel runs (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")


def grid_options(args: argparse.Namespace) -> dict:
    """``data_seeds``, ``train_seeds``, ``workers``, ``threads`` from :func:`add_grid_arguments` options."""
    from core.errors import ConfigError

    if args.workers < 1 or args.threads < 1:
        raise ConfigError("--workers and --threads must be at least 1")
    return {"data_seeds": args.data_seeds or args.seeds, "train_seeds": args.train_seeds or args.seeds,
            "workers": args.workers, "threads": args.threads}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_grid_arguments(parser)
    parser.add_argument("--no-explanation-checks", dest="explanation_checks", action="store_false",
                        help="skip the independent-explainer alignment, randomisation and deletion/insertion checks")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.fewshot.reproduction import reproduce_fewshot

    summary = reproduce_fewshot(Path(args.out), quick=args.quick, progress=args.progress,
                                explanation_checks=args.explanation_checks, **grid_options(args))
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    print(summary["markdown"])
    print(f"wrote {Path(args.out) / 'results.json'}, results.md, figure.html, gallery.png")
    return 0
