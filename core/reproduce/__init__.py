"""Paper reproductions at CPU scale (``python -m core reproduce <name>``).

Each module here follows the CLI command contract (``NAME``, ``HELP``,
``add_arguments``, ``run``) and becomes a sub-command of ``reproduce``.

The ``equiguard`` experiment (symmetry priors x expert guidance, attacked,
rotated and rescaled) is also a library::

    run_equiguard(out, quick=False, seeds=None, workers=2, threads=1, datasets=None, cues=None) -> summary
    grid(sizes, seeds, datasets, cues) -> runs        # CONDITIONS x phantoms x cues x seeds
    RobustnessEvaluation(sizes)(run, folder) -> {"robustness": report}   # run_grid's per-run hook
    run_metrics(result, sizes) -> {metric: value}; metric_names(sizes) -> [metric]
    condition_rows(runs, metrics, names) -> rows      # mean ± 95% t-interval over seeds
    paired_differences(runs, metrics, names) -> rows  # CONTRASTS, same-seed pairs only
"""

from core.reproduce.equiguard_design import (CONDITIONS, SYMMETRY_BACKBONE, Condition, EquiGuardSizes,
                                             check_choice, grid)
from core.reproduce.equiguard_eval import RobustnessEvaluation, metric_names, run_metrics
from core.reproduce.equiguard_experiment import run_equiguard
from core.reproduce.equiguard_stats import CONTRASTS, Contrast, condition_rows, paired_differences

__all__ = ["run_equiguard", "grid", "check_choice", "Condition", "CONDITIONS", "SYMMETRY_BACKBONE",
           "EquiGuardSizes", "RobustnessEvaluation", "metric_names", "run_metrics", "Contrast", "CONTRASTS",
           "condition_rows", "paired_differences"]
