"""``reproduce fewshot``: expert guidance vs none on the brain and CXR phantoms.

Grid: {brain, CXR phantom} x {no cue, spurious corner cue} x arms x seeds, where
the arms are unguided prototypical training, Dice-guided training with the
paper's Grad-CAM target (-distance to the true prototype) and Dice-guided
training with the episode log-probability target, all second-order; plus a
first-order ablation of the log-probability arm on the spurious-cue data.
Every run trains on training patients and is evaluated episodically on
held-out patients.  Phantoms are synthetic, NOT clinical data.

Every run is also explained by occlusion and Integrated Gradients, which no
training loss sees, next to Grad-CAM/Grad-CAM++: ROI alignment, the cascading
randomisation check and deletion/insertion AUC (a section of ``results.md``;
``--no-explanation-checks`` skips it).

Outputs in ``--out``: ``results.json``, ``results.md`` (table), ``figure.html``
(plotly) and ``gallery.png`` (Grad-CAM overlays, unguided vs guided).
Per-run checkpoints go to ``<out>/runs/`` (not meant for committing).
"""

from __future__ import annotations

import argparse

NAME = "fewshot"
HELP = "expert-guided vs unguided few-shot learning on the brain/CXR phantoms (accuracy and CAM-ROI Dice with 95% CIs)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one seed (about a minute)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default 0 1 2; quick: 0)")
    parser.add_argument("--workers", type=int, default=2, help="parallel runs (default 2)")
    parser.add_argument("--no-explanation-checks", dest="explanation_checks", action="store_false",
                        help="skip the independent-explainer alignment, randomisation and deletion/insertion checks")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.errors import ConfigError
    from core.fewshot.reproduction import reproduce_fewshot

    if args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    summary = reproduce_fewshot(Path(args.out), quick=args.quick, seeds=args.seeds, workers=args.workers,
                                progress=args.progress, explanation_checks=args.explanation_checks)
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    print(summary["markdown"])
    print(f"wrote {Path(args.out) / 'results.json'}, results.md, figure.html, gallery.png")
    return 0
