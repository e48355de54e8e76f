"""``attack``: worst-case robust accuracy of a checkpoint versus ε, with gradient-masking checks, as JSON.

Always runs the AutoAttack-style ensemble (the headline), PGD-10 and FGSM as
weak references, and the masking checks; ``--attack`` adds one more attack
whose successes also count for the per-image worst case.  Under ``torchrun``
the images are split across ranks and rank 0 writes the one report.
"""

from __future__ import annotations

import argparse

NAME = "attack"
HELP = ("worst-case robust accuracy vs eps (AutoAttack-style ensemble, per-image worst case) with gradient-masking "
        "checks; PGD-10/FGSM only as weak references")

ATTACK_CHOICES = ("autoattack", "apgd-ce", "apgd-dlr", "apgd-t", "fab-t", "square", "pgd", "fgsm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.cli._evaluation import add_data_arguments

    add_data_arguments(parser, n_images=500)
    parser.add_argument("--attack", default="autoattack", choices=ATTACK_CHOICES,
                        help="autoattack = the ensemble only; any other attack runs in addition to it and counts "
                             "for the worst case (default: %(default)s)")
    parser.add_argument("--version", default="standard", choices=("standard", "fast"),
                        help="ensemble: standard = APGD-CE, APGD-T, FAB-T (100 steps), Square (5000 queries); "
                             "fast = smaller budget (default: %(default)s)")
    parser.add_argument("--eps", default="0,2/255,4/255,8/255",
                        help="comma-separated radii in pixel units; fractions allowed (default: %(default)s)")
    parser.add_argument("--norm", default="inf", choices=("inf", "2"), help="ball of every attack (FGSM, Square: inf)")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps of the --attack (default: its own, PGD 10, APGD/FAB-T 100)")
    parser.add_argument("--alpha", default=None,
                        help="PGD step size in pixel units (default 2.5*eps/steps for every eps)")
    parser.add_argument("--restarts", type=int, default=1, help="random restarts of --attack pgd/apgd-*/fab-t")
    parser.add_argument("--no-random-start", action="store_true", help="start PGD at the clean image")
    parser.add_argument("--queries", type=int, default=None, help="query budget of --attack square (default 5000)")
    parser.add_argument("--ensemble-steps", type=int, default=None,
                        help="override the ensemble's gradient steps (smaller = weaker; for previews and tests)")
    parser.add_argument("--ensemble-queries", type=int, default=None,
                        help="override the ensemble's Square queries (smaller = weaker; for previews and tests)")
    parser.add_argument("--seeds", default="0", help="comma-separated attack seeds, e.g. 0,1,2 (CIs over them)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--surrogate", default=None,
                        help="checkpoint of a plain model trained on the same data, for the transfer check")
    parser.add_argument("--no-checks", action="store_true", help="skip the gradient-masking checks")
    parser.add_argument("--drift", action="store_true",
                        help="also report Grad-CAM drift (1 - soft Dice, Spearman) under the worst case at the largest eps")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (under torchrun: one GPU per rank)")
    parser.add_argument("--out", required=True, help="JSON report to write")


def _check_options(args: argparse.Namespace) -> tuple[list[float], list[int], float | None]:
    import math

    from core.attacks import parse_eps_list
    from core.attacks.factory import parse_number
    from core.cli._lists import comma_list
    from core.errors import ConfigError

    eps = parse_eps_list(args.eps, max_value=1.0 if args.norm == "inf" else math.inf)
    seeds = comma_list(args.seeds, "--seeds", int)
    alpha = None if args.alpha is None else parse_number(args.alpha, "--alpha")
    if alpha is not None and alpha <= 0:
        raise ConfigError("--alpha must be > 0")
    counts = (args.steps, args.queries, args.ensemble_steps, args.ensemble_queries, args.restarts, args.batch_size)
    if any(v is not None and v < 1 for v in counts):
        raise ConfigError("--steps, --queries, --ensemble-steps, --ensemble-queries, --restarts and --batch-size "
                          "must be >= 1")
    if args.attack in ("fgsm", "square") and args.norm != "inf":
        raise ConfigError(f"{args.attack.upper()} is an L-inf attack; use --attack apgd-ce or pgd with --norm 2 for L2")
    return eps, seeds, alpha


def _check_classes(args: argparse.Namespace, config) -> None:
    """DLR attacks need 3 (untargeted) or 4 (targeted) classes: refuse before any work is done."""
    from core.attacks import check_dlr_classes

    if args.attack in ("apgd-t", "apgd-dlr"):
        check_dlr_classes(config.num_classes, targeted=args.attack == "apgd-t", who=f"--attack {args.attack}")


def run(args: argparse.Namespace) -> int:
    eps, seeds, alpha = _check_options(args)
    import torch

    from core.attacks import check_eps_range, make_attack
    from core.cli._evaluation import checkpoint_and_subset, collect_warnings, distributed
    from core.robustness import evaluate_worst_case, explanation_drift
    from core.robustness.reports import write_json_atomic

    ckpt, images, labels = checkpoint_and_subset(args, check_model=lambda config: _check_classes(args, config))
    check_eps_range(torch.tensor(eps), args.norm, images.shape[1:])
    surrogate = None
    if args.surrogate is not None:
        surrogate_ckpt, _, _ = checkpoint_and_subset(args, args.surrogate)
        surrogate = surrogate_ckpt.model
    model = ckpt.model
    extra = None
    if args.attack != "autoattack":
        extra = make_attack(args.attack, model, eps, norm=args.norm, steps=args.steps, alpha=alpha,
                            random_start=not args.no_random_start, restarts=args.restarts, n_queries=args.queries)
    found: list[str] = []
    with distributed(args.device) as (dist, device):
        progress = args.progress if dist.is_main else None
        model.to(device)
        if surrogate is not None:
            surrogate.to(device)
        with collect_warnings(found, echo=dist.is_main):
            evaluation = evaluate_worst_case(
                model, images, labels, eps, version=args.version, norm=args.norm, seeds=seeds, extra=extra,
                steps=args.ensemble_steps, n_queries=args.ensemble_queries,
                surrogate=surrogate, surrogate_name=args.surrogate, checks=not args.no_checks,
                batch_size=args.batch_size, keep_eps=[eps.index(max(eps))] if args.drift else (), dist=dist,
                progress=progress)
        if not dist.is_main:
            return 0
        worst = evaluation.worst()
        report = {
            "checkpoint": str(args.checkpoint), "arch": ckpt.config.arch, "dataset": args.dataset,
            "split": args.split, "n_images": int(images.shape[0]), "attack": args.attack, "version": args.version,
            "norm": args.norm, "eps": eps, "seeds": seeds, "world_size": dist.world_size,
            "clean_accuracy": evaluation.clean_accuracy, "curve": worst.curve().to_dict(),
            **evaluation.to_dict(), "warnings": found,
        }
        if args.drift:
            adv = evaluation.ensemble.adversarial[eps.index(max(eps))]
            report["drift"] = {"eps": max(eps), "attack": f"autoattack-{args.version}",
                               **explanation_drift(model, images.to(device), adv.to(device)).to_dict()}
        write_json_atomic(args.out, report)
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    print(f"{ckpt.config.arch} on {images.shape[0]} {args.dataset} images:")
    for line in evaluation.summary_lines():
        print("  " + line)
    print(f"wrote {args.out}")
    return 0
