"""``transforms``: accuracy of a checkpoint under rotation, rescaling and corruptions, as a JSON report."""

from __future__ import annotations

import argparse

NAME = "transforms"
HELP = "accuracy of a trained model versus rotation angle, scale factor and corruption x severity (JSON report)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="model.pt written by 'train'")
    parser.add_argument("--dataset", default="digits", help="digits, cifar10 or cifar100")
    parser.add_argument("--data-root", default=None, help="folder with the CIFAR python batches")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--n-images", type=int, default=300, help="random subset of the split")
    parser.add_argument("--angles", default="0,15,30,45,60,90,135,180", help="rotation angles in degrees")
    parser.add_argument("--scales", default="0.6,0.7,0.8,0.9,1,1.1,1.25,1.5", help="rescaling factors")
    parser.add_argument("--corruptions", default=None, help="comma-separated subset (default: all)")
    parser.add_argument("--severities", default="1,2,3,4,5")
    parser.add_argument("--seed", type=int, default=0, help="corruption noise seed")
    parser.add_argument("--cifar10c-root", default=None,
                        help="folder with the CIFAR-10-C <corruption>.npy files and labels.npy: the corruption "
                             "table then comes from these files (first --n-images of every severity block) "
                             "instead of the synthetic suite; needs a 3x32x32, 10-class model")
    parser.add_argument("--out", required=True, help="JSON report to write")


def _check_cifar10c_model(config) -> None:
    """One-line :class:`ConfigError` unless ``config`` (a ``ModelConfig``) takes 3×32×32 CIFAR-10 images."""
    from core.errors import ConfigError
    from core.robustness import CIFAR10C_SHAPE

    shape = (config.in_channels, config.image_size, config.image_size)
    if shape != CIFAR10C_SHAPE or config.num_classes != 10:
        raise ConfigError(f"--cifar10c-root needs a model for 3x32x32 images and 10 classes; this checkpoint "
                          f"takes {shape[0]}x{shape[1]}x{shape[2]} images and {config.num_classes} classes")


def run(args: argparse.Namespace) -> int:
    from core.cli._lists import comma_list
    from core.errors import ConfigError
    from core.progress import ProgressEvent
    from core.robustness import (accuracy, cifar10c_accuracy, cifar10c_corruptions, corruption_accuracy,
                                 rotation_curve, scale_curve)
    from core.robustness.reports import evaluation_subset, write_json_atomic
    from core.training import load_checkpoint

    angles = comma_list(args.angles, "--angles", float)
    scales = comma_list(args.scales, "--scales", float)
    if any(s <= 0 for s in scales):
        raise ConfigError("--scales must be > 0")
    severities = comma_list(args.severities, "--severities", int)
    corruptions = [c.strip() for c in args.corruptions.split(",") if c.strip()] if args.corruptions else None
    if corruptions is not None and args.cifar10c_root is None:
        # With --cifar10c-root the names are file stems, checked against the folder below.
        from core.datasets import CORRUPTIONS

        unknown = [c for c in corruptions if c not in CORRUPTIONS]
        if unknown:
            raise ConfigError(f"unknown corruption {unknown[0]!r}; choose from {', '.join(CORRUPTIONS)}")
    ckpt = load_checkpoint(args.checkpoint)
    if args.cifar10c_root is not None:
        _check_cifar10c_model(ckpt.config)
        # Fail on a missing folder, labels.npy or corruption file before any evaluation.
        present = cifar10c_corruptions(args.cifar10c_root)
        missing = [c for c in corruptions or () if c not in present]
        if missing:
            raise ConfigError(f"CIFAR-10-C corruption {missing[0]!r} has no file in {args.cifar10c_root}; "
                              f"present: {', '.join(present)}")
    split_seed = int(ckpt.split.get("split_seed") or 0)
    images, labels = evaluation_subset(args.dataset, split=args.split, root=args.data_root,
                                       split_seed=split_seed, n_images=args.n_images)
    if tuple(images.shape[1:]) != (ckpt.config.in_channels, ckpt.config.image_size, ckpt.config.image_size):
        raise ConfigError(f"{args.dataset} images are {tuple(images.shape[1:])} but the checkpoint's model "
                          f"expects ({ckpt.config.in_channels}, {ckpt.config.image_size}, {ckpt.config.image_size})")
    model = ckpt.model
    args.progress(ProgressEvent("rotation", 0, 3, message="rotation curve"))
    rotation = rotation_curve(model, images, labels, angles)
    args.progress(ProgressEvent("scale", 1, 3, message="scale curve"))
    scale = scale_curve(model, images, labels, scales)
    args.progress(ProgressEvent("corruption", 2, 3, message="corruptions"))
    if args.cifar10c_root is None:
        corruption = corruption_accuracy(model, images, labels, corruptions=corruptions, severities=severities,
                                         seed=args.seed, progress=args.progress)
        source = {"source": "synthetic", "seed": args.seed}
    else:
        corruption = cifar10c_accuracy(model, args.cifar10c_root, corruptions=corruptions, severities=severities,
                                       n_images=args.n_images, progress=args.progress)
        source = {"source": "cifar10c", "root": str(args.cifar10c_root), "n_images_per_cell": args.n_images}
    report = {
        "checkpoint": str(args.checkpoint), "arch": ckpt.config.arch, "dataset": args.dataset, "split": args.split,
        "n_images": int(images.shape[0]), "clean_accuracy": accuracy(model, images, labels),
        "rotation": rotation.to_dict(), "scale": scale.to_dict(), "corruption": corruption.to_dict(),
        "corruption_source": source,
    }
    write_json_atomic(args.out, report)
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    print(f"{ckpt.config.arch}: clean {report['clean_accuracy']:.3f}, mean corruption accuracy "
          f"{corruption.mean:.3f}; wrote {args.out}")
    return 0
