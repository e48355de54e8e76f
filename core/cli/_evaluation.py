"""Plumbing shared by the evaluation commands (``attack``, ``clever``): model, data, ranks, warnings."""

from __future__ import annotations

import argparse
import sys
import warnings
from contextlib import contextmanager
from typing import Iterator

__all__ = ["add_data_arguments", "checkpoint_and_subset", "distributed", "collect_warnings"]


def add_data_arguments(parser: argparse.ArgumentParser, n_images: int) -> None:
    """``--checkpoint``, ``--dataset``, ``--data-root``, ``--split``, ``--n-images``."""
    parser.add_argument("--checkpoint", required=True, help="model.pt written by 'train'")
    parser.add_argument("--dataset", default="digits", help="digits, cifar10 or cifar100")
    parser.add_argument("--data-root", default=None, help="folder with the CIFAR python batches")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--n-images", type=int, default=n_images, help="random subset of the split")


def checkpoint_and_subset(args: argparse.Namespace, checkpoint: str | None = None, check_model=None):
    """``(checkpoint, images (N, C, H, W), labels (N,))`` with the shapes and classes checked.

    The same seeded subset for every command and model (see
    :func:`core.robustness.reports.evaluation_subset`).  A data set whose images
    or labels do not fit the model is a one-line :class:`ConfigError`;
    ``check_model(config)`` may refuse the model before any data is read.
    """
    from core.errors import ConfigError
    from core.robustness.reports import evaluation_subset
    from core.training import load_checkpoint

    ckpt = load_checkpoint(checkpoint or args.checkpoint)
    if check_model is not None:
        check_model(ckpt.config)
    split_seed = int(ckpt.split.get("split_seed") or 0)
    images, labels = evaluation_subset(args.dataset, split=args.split, root=args.data_root,
                                       split_seed=split_seed, n_images=args.n_images)
    cfg = ckpt.config
    if tuple(images.shape[1:]) != (cfg.in_channels, cfg.image_size, cfg.image_size):
        raise ConfigError(f"{args.dataset} images are {tuple(images.shape[1:])} but the checkpoint's model "
                          f"expects ({cfg.in_channels}, {cfg.image_size}, {cfg.image_size})")
    if int(labels.max()) >= cfg.num_classes:
        raise ConfigError(f"{args.dataset} has labels up to {int(labels.max())} but the checkpoint's model has "
                          f"{cfg.num_classes} classes (0..{cfg.num_classes - 1}): wrong --dataset for this model?")
    return ckpt, images, labels


@contextmanager
def distributed(device_name: str = "cpu") -> Iterator[tuple]:
    """``(DistContext, device)`` of this process, the group closed on exit.

    Outside ``torchrun`` the context is a no-op; under it the ranks join one
    group (gloo on CPU, nccl on GPU) and each rank gets its own GPU.
    """
    import torch

    from core.training import init_distributed, resolve_device

    device = resolve_device(device_name)
    ctx = init_distributed(device)
    if ctx.enabled and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
    try:
        yield ctx, device
    finally:
        ctx.close()


@contextmanager
def collect_warnings(found: list[str], echo: bool = True) -> Iterator[list[str]]:
    """Collect the messages of warnings raised inside (deduplicated); print each as ``warning: …`` on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield found
    for w in caught:
        if issubclass(w.category, UserWarning) and (message := " ".join(str(w.message).split())) not in found:
            found.append(message)
            if echo:
                print(f"warning: {message}", file=sys.stderr)
