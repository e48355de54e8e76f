"""``fewshot-robustness``: a few-shot run's episodic accuracy and CAM-ROI Dice under attack, rotation and scale."""

from __future__ import annotations

import argparse

NAME = "fewshot-robustness"
HELP = ("robustness of a 'fewshot' run on its own held-out test episodes: episodic accuracy, CAM-ROI Dice and "
        "pointing game (mean and 95% CI over episodes) under the worst-case attack at each eps, rotation and "
        "rescaling (ROIs moved with the images); JSON report")

_ATTACKS = ("autoattack", "apgd-ce", "apgd-dlr", "pgd", "fgsm", "square")
#: --quick: a smoke-test size (minutes on a CPU become seconds); the budget is stated in the report.
QUICK = {"episodes": 3, "attack_steps": 10, "n_queries": 50}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="folder of a 'fewshot' run with checkpoint.pt and metrics.json")
    parser.add_argument("--eps", default="0,2/255,8/255", help="L-inf radii in pixel units (default 0,2/255,8/255)")
    parser.add_argument("--angles", default="0,90,random",
                        help="rotation angles in degrees; 'random' = one seeded random angle per image; "
                             "'none' to skip (default 0,90,random)")
    parser.add_argument("--scales", default="0.8,1,1.25", help="zoom factors > 0; 'none' to skip (default 0.8,1,1.25)")
    parser.add_argument("--attack", default="autoattack", choices=_ATTACKS,
                        help="autoattack = the AutoAttack-style ensemble, the per-image worst case (default)")
    parser.add_argument("--version", default="fast", choices=("fast", "standard"), help="ensemble budget")
    parser.add_argument("--steps", type=int, default=None, help="gradient steps (overrides the attack's budget)")
    parser.add_argument("--n-queries", type=int, default=None, help="Square queries (overrides the budget)")
    parser.add_argument("--roi-mode", default=None, choices=("outside", "inside"),
                        help="perturb only outside the ROI (spurious-feature attack) or only inside it")
    parser.add_argument("--episodes", type=int, default=None, help="test episodes (default: the run's eval episodes)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['episodes']} episodes, {QUICK['attack_steps']} attack steps, "
                             f"{QUICK['n_queries']} Square queries")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--out", default=None, help="JSON report (default: <run>/robustness.json)")


def _values(text: str, what: str, allow_random: bool = False) -> list:
    from core.cli._lists import comma_list
    from core.errors import ConfigError

    if text.strip().lower() == "none":
        return []
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if allow_random and "random" in parts:
        numbers = ",".join(p for p in parts if p != "random")
        values = comma_list(numbers, what, float) if numbers else []
        return [*values, "random"]
    if not parts:
        raise ConfigError(f"{what} needs at least one value (or 'none')")
    return comma_list(text, what, float)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from core.atomic import write_json_atomic
    from core.attacks import parse_eps_list
    from core.errors import ConfigError
    from core.fewshot.robustness import run_report

    if args.threads < 1:
        raise ConfigError("--threads must be >= 1")
    for flag, value in (("--steps", args.steps), ("--n-queries", args.n_queries), ("--episodes", args.episodes)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} must be at least 1")
    torch.set_num_threads(args.threads)
    eps = [] if args.eps.strip().lower() == "none" else parse_eps_list(args.eps)
    options = {"eps": eps, "angles": _values(args.angles, "--angles", allow_random=True),
               "scales": _values(args.scales, "--scales"), "attack": args.attack, "attack_version": args.version,
               "attack_steps": args.steps, "n_queries": args.n_queries, "roi_mode": args.roi_mode}
    episodes = args.episodes
    if args.quick:
        episodes = episodes or QUICK["episodes"]
        options["attack_steps"] = options["attack_steps"] or QUICK["attack_steps"]
        options["n_queries"] = options["n_queries"] or QUICK["n_queries"]
    run_dir = Path(args.run)
    out = Path(args.out) if args.out else run_dir / "robustness.json"
    report = run_report(run_dir, workspace=args.workspace, episodes=episodes, progress=args.progress, **options)
    report["quick"] = bool(args.quick)
    write_json_atomic(out, report)
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    _print_table(report)
    print(f"{report['settings']['episodes']} test episodes in {report['seconds']:.0f} s; wrote {out}")
    return 0


def _print_table(report: dict) -> None:
    def cell(stat: dict) -> str:
        return "n/a" if not stat or stat.get("n", 0) == 0 else f"{stat['mean']:.3f} ± {stat['ci95']:.3f}"

    print(f"{'condition':>18} | {'accuracy':>15} | {'CAM-ROI Dice':>15} | {'pointing':>15}")
    rows = [("clean", report["clean"])]
    for kind, label in (("attack", "eps {:.1f}/255"), ("rotation", "rotation {}"), ("scale", "scale {}")):
        curve = report["curves"][kind]
        for j, x in enumerate(curve["x"]):
            name = label.format(x * 255 if kind == "attack" else x)
            rows.append((name, {m: curve[m][j] for m in ("accuracy", "dice", "pointing")}))
    for name, stats in rows:
        print(f"{name:>18} | {cell(stats['accuracy']):>15} | {cell(stats['dice']):>15} | {cell(stats['pointing']):>15}")
