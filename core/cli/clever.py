"""``clever``: CLEVER robustness scores (Weng et al. 2018) of a checkpoint on a few images."""

from __future__ import annotations

import argparse

NAME = "clever"
HELP = "attack-free CLEVER scores (estimated minimal adversarial distortion) of a trained model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="model.pt written by 'train'")
    parser.add_argument("--dataset", default="digits", help="digits, cifar10 or cifar100")
    parser.add_argument("--data-root", default=None, help="folder with the CIFAR python batches")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--n-images", type=int, default=10, help="random subset of the split")
    parser.add_argument("--norm", default="2", choices=("1", "2", "inf"), help="attack norm p")
    parser.add_argument("--nb-batch", type=int, default=50, help="number of batch maxima")
    parser.add_argument("--batch-size", type=int, default=100, help="points sampled per batch")
    parser.add_argument("--radius", default="2", help="sampling radius R (pixel units; fractions allowed)")
    parser.add_argument("--target-class", type=int, default=None, help="targeted CLEVER towards this class")
    parser.add_argument("--no-clip", action="store_true", help="do not clip sampled points to [0, 1]")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (image i uses seed + i)")
    parser.add_argument("--out", required=True, help="JSON report to write")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from core.attacks.factory import parse_number
    from core.errors import ConfigError
    from core.robustness import clever_batch, t_interval
    from core.robustness.reports import evaluation_subset, write_json_atomic
    from core.training import load_checkpoint

    radius = parse_number(args.radius, "--radius")
    if radius <= 0:
        raise ConfigError("--radius must be > 0")
    if args.nb_batch < 1 or args.batch_size < 1:
        raise ConfigError("--nb-batch and --batch-size must be >= 1")
    ckpt = load_checkpoint(args.checkpoint)
    split_seed = int(ckpt.split.get("split_seed") or 0)
    images, labels = evaluation_subset(args.dataset, split=args.split, root=args.data_root,
                                       split_seed=split_seed, n_images=args.n_images)
    if args.target_class is not None and not 0 <= args.target_class < ckpt.config.num_classes:
        raise ConfigError(f"--target-class must be in 0..{ckpt.config.num_classes - 1}")
    if args.target_class is not None:
        from core.robustness import predict

        keep = predict(ckpt.model, images) != args.target_class
        if not bool(keep.any()):
            raise ConfigError(f"every selected image is already predicted as class {args.target_class}")
        images, labels = images[keep], labels[keep]
    results = clever_batch(ckpt.model, images, norm=args.norm, nb_batch=args.nb_batch,
                           batch_size=args.batch_size, radius=radius, target_class=args.target_class,
                           clip=not args.no_clip, seed=args.seed, progress=args.progress)
    scores = np.array([r.score for r in results])
    summary = t_interval(scores)
    report = {
        "checkpoint": str(args.checkpoint), "arch": ckpt.config.arch, "dataset": args.dataset,
        "split": args.split, "norm": args.norm, "radius": radius, "nb_batch": args.nb_batch,
        "batch_size": args.batch_size, "targeted": args.target_class is not None,
        "clip": not args.no_clip,
        "mean_score": summary.mean, "ci95_over_images": summary.to_dict()["ci95"],
        "fallback_fraction": float(np.mean([r.fallback for r in results])),
        "images": [{"label": int(y), **r.to_dict()} for y, r in zip(labels.tolist(), results)],
    }
    for item in report["images"]:
        item.pop("per_target", None)
    write_json_atomic(args.out, report)
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    print(f"{ckpt.config.arch}: mean CLEVER L{args.norm} score {summary.mean:.4g} over {len(results)} images; "
          f"wrote {args.out}")
    return 0
