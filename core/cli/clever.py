"""``clever``: CLEVER scores (Weng et al. 2018) of a checkpoint, next to the minimal perturbation an attack finds.

CLEVER estimates a *lower* bound on the smallest perturbation that changes the
prediction; the bisection with the ``fast`` ensemble finds an *upper* bound
(:mod:`core.robustness.minimal`).  The report counts how often CLEVER exceeds
it, i.e. overestimates robustness.  Under ``torchrun`` the images are split
across ranks and rank 0 writes the one report.
"""

from __future__ import annotations

import argparse

NAME = "clever"
HELP = ("attack-free CLEVER scores (estimated minimal adversarial distortion), with the minimal perturbation an "
        "attack finds for comparison")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.cli._evaluation import add_data_arguments

    add_data_arguments(parser, n_images=10)
    parser.add_argument("--norm", default="2", choices=("1", "2", "inf"), help="attack norm p")
    parser.add_argument("--nb-batch", type=int, default=50, help="number of batch maxima")
    parser.add_argument("--batch-size", type=int, default=100, help="points sampled per batch")
    parser.add_argument("--radius", default="2", help="sampling radius R (pixel units; fractions allowed)")
    parser.add_argument("--target-class", type=int, default=None, help="targeted CLEVER towards this class")
    parser.add_argument("--no-clip", action="store_true", help="do not clip sampled points to [0, 1]")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (image i uses seed + i)")
    parser.add_argument("--no-minimal", action="store_true",
                        help="skip the minimal perturbations (bisection with the fast ensemble, L2/L-inf only)")
    parser.add_argument("--bisections", type=int, default=8, help="bisection steps of the minimal perturbation")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (under torchrun: one GPU per rank)")
    parser.add_argument("--out", required=True, help="JSON report to write")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from core.attacks.factory import parse_number
    from core.cli._evaluation import checkpoint_and_subset, distributed
    from core.errors import ConfigError
    from core.robustness import clever_batch, clever_vs_minimal, minimal_perturbation, predict, t_interval
    from core.robustness.reports import write_json_atomic
    from core.robustness.sharding import gather_by_key, my_batches

    radius = parse_number(args.radius, "--radius")
    if radius <= 0:
        raise ConfigError("--radius must be > 0")
    if args.nb_batch < 1 or args.batch_size < 1 or args.bisections < 0:
        raise ConfigError("--nb-batch and --batch-size must be >= 1 and --bisections >= 0")
    ckpt, images, labels = checkpoint_and_subset(args)
    if args.target_class is not None and not 0 <= args.target_class < ckpt.config.num_classes:
        raise ConfigError(f"--target-class must be in 0..{ckpt.config.num_classes - 1}")
    if args.target_class is not None:
        keep = predict(ckpt.model, images) != args.target_class
        if not bool(keep.any()):
            raise ConfigError(f"every selected image is already predicted as class {args.target_class}")
        images, labels = images[keep], labels[keep]
    minimal_wanted = not args.no_minimal and args.norm != "1" and args.target_class is None
    with distributed(args.device) as (dist, device):
        model = ckpt.model.to(device)
        local = {}
        # One image per unit of work: image i is seeded with seed + i whichever rank takes it.
        for i, rows in my_batches(images.shape[0], 1, dist):
            x = images[rows].to(device)
            result = clever_batch(model, x, norm=args.norm, nb_batch=args.nb_batch, batch_size=args.batch_size,
                                  radius=radius, target_class=args.target_class, clip=not args.no_clip,
                                  seed=args.seed + i)[0]
            minimal = (minimal_perturbation(model, x, norm=args.norm, upper=radius, iterations=args.bisections,
                                            seed=args.seed + i) if minimal_wanted else None)
            local[i] = (result, minimal)
            if dist.is_main:
                from core.progress import ProgressEvent

                args.progress(ProgressEvent("clever", len(local), -(-images.shape[0] // dist.world_size),
                                            metrics={"score": result.score}))
        merged = gather_by_key(local, dist)
    if not dist.is_main:
        return 0
    results = [r for r, _ in merged.values()]
    scores = np.array([r.score for r in results])
    summary = t_interval(scores)
    report = {
        "checkpoint": str(args.checkpoint), "arch": ckpt.config.arch, "dataset": args.dataset,
        "split": args.split, "norm": args.norm, "radius": radius, "nb_batch": args.nb_batch,
        "batch_size": args.batch_size, "targeted": args.target_class is not None,
        "clip": not args.no_clip, "world_size": dist.world_size,
        "mean_score": summary.mean, "ci95_over_images": summary.to_dict()["ci95"],
        "fallback_fraction": float(np.mean([r.fallback for r in results])),
        "images": [{"label": int(y), **r.to_dict()} for y, r in zip(labels.tolist(), results)],
    }
    for item in report["images"]:
        item.pop("per_target", None)
    if minimal_wanted:
        minimal = [m for _, m in merged.values()]
        joined = minimal[0]
        joined.eps = np.concatenate([m.eps for m in minimal])
        report["minimal_perturbation"] = joined.to_dict()
        report["clever_vs_minimal"] = clever_vs_minimal(scores, joined)
        for item, m in zip(report["images"], joined.eps.tolist()):
            item["minimal_perturbation"] = m if np.isfinite(m) else None
    write_json_atomic(args.out, report)
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    print(f"{ckpt.config.arch}: mean CLEVER L{args.norm} score {summary.mean:.4g} over {len(results)} images")
    if minimal_wanted:
        cmp = report["clever_vs_minimal"]
        print(f"  CLEVER exceeds the minimal perturbation an attack found on {cmp['overestimates']} of "
              f"{cmp['n_images']} images (overestimates robustness there)")
    print(f"wrote {args.out}")
    return 0
