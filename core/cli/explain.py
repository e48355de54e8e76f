"""``explain``: check a few-shot run's explanations with explainers its training loss never saw."""

from __future__ import annotations

import argparse

NAME = "explain"
HELP = ("explanation checks of a 'fewshot' run: ROI alignment of Grad-CAM, Grad-CAM++, occlusion and Integrated "
        "Gradients on held-out test episodes, the cascading randomisation check and deletion/insertion AUC")

_EXPLAINERS = ("gradcam", "gradcam++", "occlusion", "integrated_gradients")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True,
                        help="folder of a 'fewshot' run (or a reproduction run) with checkpoint.pt and metrics.json")
    parser.add_argument("--explainers", nargs="+", choices=_EXPLAINERS, default=list(_EXPLAINERS))
    parser.add_argument("--quick", action="store_true", help="tiny sizes (2 episodes, coarse occlusion, few steps)")
    parser.add_argument("--episodes", type=int, default=None, help="test episodes whose queries are explained")
    parser.add_argument("--out", default=None, help="JSON report (default: <run>/explanation_checks.json)")


def _config(metrics: dict):
    from core.errors import LoadError
    from core.fewshot import RunConfig, TrainConfig

    try:
        cfg = dict(metrics["config"])
        return RunConfig(**{k: v for k, v in cfg.items() if k != "train"}, train=TrainConfig(**cfg["train"]))
    except (KeyError, TypeError):
        raise LoadError("metrics.json does not hold a few-shot run configuration") from None


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import json
    from pathlib import Path

    from core.atomic import write_json_atomic
    from core.errors import ConfigError, LoadError
    from core.fewshot.explanation_checks import FULL_CHECKS, QUICK_CHECKS, check_run

    run_dir = Path(args.run)
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.is_file() or not (run_dir / "checkpoint.pt").is_file():
        raise LoadError(f"{run_dir} is not a few-shot run folder (needs checkpoint.pt and metrics.json)")
    try:
        metrics = json.loads(metrics_path.read_text())
    except (ValueError, UnicodeDecodeError):
        raise LoadError(f"{metrics_path.name} is not valid JSON") from None
    sizes = QUICK_CHECKS if args.quick else FULL_CHECKS
    if args.episodes is not None:
        if args.episodes < 1:
            raise ConfigError("--episodes must be at least 1")
        sizes = dataclasses.replace(sizes, episodes=args.episodes)
    report = check_run(_config(metrics), run_dir, sizes, progress=args.progress, workspace=args.workspace,
                       explainers=args.explainers)
    out = Path(args.out) if args.out else run_dir / "explanation_checks.json"
    write_json_atomic(out, report)
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    print(f"{'explainer':>22} | Dice  | pointing | energy | Spearman all layers random | deletion (random) | "
          f"insertion (random)")
    for name, e in report["explainers"].items():
        a, f, r = e["alignment"], e["faithfulness"], e.get("randomisation", {})
        cells = [f"{a[m]['mean']:.3f}" if a[m] else "n/a" for m in ("dice", "pointing", "energy")]
        last = r.get("spearman", [None])[-1] if r else None
        rho = "n/a" if last is None else f"{last:.2f}"
        faith = [f"{f[k + '_auc']['mean']:.3f} ({f[k + '_random_auc']['mean']:.3f})" if f else "n/a"
                 for k in ("deletion", "insertion")]
        print(f"{name:>22} | {cells[0]} | {cells[1]:>8} | {cells[2]:>6} | {rho:>26} | {faith[0]:>17} | {faith[1]:>18}")
    print(f"{report['episodes']} test episodes; wrote {out}")
    return 0
