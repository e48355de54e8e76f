"""``attack``: adversarial accuracy of a checkpoint versus ε (FGSM or PGD), as a JSON report."""

from __future__ import annotations

import argparse

NAME = "attack"
HELP = "accuracy of a trained model under FGSM/PGD at several eps (pixel units, e.g. 8/255)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="model.pt written by 'train'")
    parser.add_argument("--dataset", default="digits", help="digits, cifar10 or cifar100")
    parser.add_argument("--data-root", default=None, help="folder with the CIFAR python batches")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--attack", default="pgd", choices=("fgsm", "pgd"))
    parser.add_argument("--eps", default="0,2/255,4/255,8/255",
                        help="comma-separated radii in pixel units; fractions allowed (default: %(default)s)")
    parser.add_argument("--norm", default="inf", choices=("inf", "2"), help="PGD ball (FGSM is L-inf)")
    parser.add_argument("--steps", type=int, default=10, help="PGD steps")
    parser.add_argument("--alpha", default=None,
                        help="PGD step size in pixel units (default 2.5*eps/steps for every eps)")
    parser.add_argument("--restarts", type=int, default=1, help="PGD random restarts")
    parser.add_argument("--no-random-start", action="store_true", help="start PGD at the clean image")
    parser.add_argument("--n-images", type=int, default=500, help="random subset of the split")
    parser.add_argument("--seeds", default="0", help="comma-separated PGD random-start seeds, e.g. 0,1,2")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--drift", action="store_true",
                        help="also report Grad-CAM drift (1 - soft Dice, Spearman) at the largest eps")
    parser.add_argument("--out", required=True, help="JSON report to write")


def run(args: argparse.Namespace) -> int:
    from core.cli._lists import comma_list
    from core.attacks import make_attack, parse_eps_list
    from core.attacks.factory import parse_number
    from core.errors import ConfigError
    from core.robustness import accuracy, attack_curve, explanation_drift
    from core.robustness.reports import evaluation_subset, write_json_atomic
    from core.training import load_checkpoint

    eps = parse_eps_list(args.eps)
    seeds = comma_list(args.seeds, "--seeds", int)
    alpha = None if args.alpha is None else parse_number(args.alpha, "--alpha")
    if alpha is not None and alpha <= 0:
        raise ConfigError("--alpha must be > 0")
    if args.steps < 1 or args.restarts < 1 or args.batch_size < 1:
        raise ConfigError("--steps, --restarts and --batch-size must be >= 1")
    if args.attack == "fgsm" and args.norm != "inf":
        raise ConfigError("FGSM is an L-inf attack; use --attack pgd --norm 2 for L2")
    ckpt = load_checkpoint(args.checkpoint)
    split_seed = int(ckpt.split.get("split_seed") or 0)
    images, labels = evaluation_subset(args.dataset, split=args.split, root=args.data_root,
                                       split_seed=split_seed, n_images=args.n_images)
    if tuple(images.shape[1:]) != (ckpt.config.in_channels, ckpt.config.image_size, ckpt.config.image_size):
        raise ConfigError(f"{args.dataset} images are {tuple(images.shape[1:])} but the checkpoint's model "
                          f"expects ({ckpt.config.in_channels}, {ckpt.config.image_size}, {ckpt.config.image_size})")
    model = ckpt.model
    curve = attack_curve(model, images, labels, eps, attack=args.attack, norm=args.norm, steps=args.steps,
                         alpha=alpha, random_start=not args.no_random_start, restarts=args.restarts,
                         seeds=seeds, batch_size=args.batch_size, progress=args.progress)
    report = {
        "checkpoint": str(args.checkpoint), "arch": ckpt.config.arch, "dataset": args.dataset,
        "split": args.split, "n_images": int(images.shape[0]), "attack": args.attack,
        "clean_accuracy": accuracy(model, images, labels), "curve": curve.to_dict(),
    }
    if args.drift:
        top = max(eps)
        atk = make_attack(args.attack, model, top, norm=args.norm, steps=args.steps, alpha=alpha,
                          random_start=not args.no_random_start)
        import torch

        adv = atk(images, labels, generator=torch.Generator().manual_seed(seeds[0]))
        report["drift"] = {"eps": top, **explanation_drift(model, images, adv).to_dict()}
    write_json_atomic(args.out, report)
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    means = ", ".join(f"{e:.4g}: {m:.3f}" for e, m in zip(eps, report["curve"]["mean"]))
    print(f"{ckpt.config.arch} under {args.attack.upper()} (accuracy by eps) {means}; wrote {args.out}")
    return 0
