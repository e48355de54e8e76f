"""Medium run behind the "Explanations checked independently" section of docs/science/fewshot.md.

``python -m benchmarks.explanation_medium --out docs/results/fewshot_explanations [--seeds 0 1 2] [--workers 2]``

The brain phantom with the spurious corner cue, at the full reproduction's sizes
(``core.fewshot.reproduction.grid(quick=False)``), for the unguided arm and the
two log-probability guided arms; every run is then checked by
:func:`core.fewshot.explanation_checks.check_run` at ``FULL_CHECKS`` sizes.
Writes ``results.json`` and ``results.md`` (accuracy / Grad-CAM table of the
reproduction, then the explanation-check section).  Not part of
``python -m benchmarks`` (no ``bench_`` prefix): it trains 9 models.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

__all__ = ["main"]

ARMS = ("unguided", "guided (log-prob target)", "guided (log-prob, 1st order)")


def _one(run: dict, out: str) -> dict:
    import torch

    from core.fewshot import run_fewshot
    from core.fewshot.explanation_checks import FULL_CHECKS, check_run

    torch.set_num_threads(1)
    run_dir = Path(out) / "runs" / f"{run['arm'].replace(' ', '_')}-seed{run['seed']}"
    result = run_fewshot(run["config"], run_dir)
    start = time.perf_counter()
    result["explanation_checks"] = check_run(run["config"], run_dir, FULL_CHECKS)
    result["check_seconds"] = time.perf_counter() - start
    return result


def main(out: Path, seeds: list[int], workers: int = 2) -> dict:
    from core.atomic import write_json_atomic, write_text_atomic
    from core.fewshot.explanation_checks import FULL_CHECKS
    from core.fewshot.explanation_report import explanation_section
    from core.fewshot.reproduction import aggregate, grid, markdown_table

    runs = [r for r in grid(False, seeds) if r["dataset"] == "brain-phantom" and r["spurious"] and r["arm"] in ARMS]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        results = list(pool.map(_one, runs, [str(out)] * len(runs)))
    section, checks = explanation_section(runs, results, FULL_CHECKS)
    summary = {"synthetic_data": True, "seeds": seeds, "arms": list(ARMS), "wall_seconds": time.perf_counter() - start,
               "rows": aggregate(runs, results), "explanation_checks": checks,
               "runs": [{"arm": r["arm"], "seed": r["seed"], "accuracy": res["accuracy"],
                         "train_seconds": res["train_seconds"], "check_seconds": res["check_seconds"]}
                        for r, res in zip(runs, results)]}
    write_json_atomic(out / "results.json", summary)
    md = ("# Brain phantom with the spurious cue: explanations checked independently\n\n"
          f"Synthetic data, NOT clinical. Seeds {seeds}; full reproduction sizes.\n\n"
          f"{markdown_table(summary['rows'])}\n\n{section}\n")
    write_text_atomic(out / "results.md", md)
    print(md)
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    main(args.out, args.seeds, args.workers)
