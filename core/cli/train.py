"""``train``: train a symmetry-aware CNN on digits or CIFAR; writes model.pt and metrics.json.

Run under ``torchrun --nproc_per_node=K -m core train ...`` for DistributedDataParallel.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "train"
HELP = "train a baseline / parallel / cascaded / equivariant CNN (writes model.pt and metrics.json)"

# Duplicated from core.models / core.datasets so that --help never imports torch.
_ARCHS = ("baseline", "parallel_rot", "parallel_scale", "parallel_rot_scale", "cascaded", "equivariant")
_DATASETS = ("digits", "cifar10", "cifar100")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, choices=_ARCHS, help="architecture")
    parser.add_argument("--preset", default="tiny", choices=("tiny", "paper"),
                        help="tiny: seconds on a CPU; paper: the paper's widths (GPU)")
    parser.add_argument("--dataset", default="digits", choices=_DATASETS)
    parser.add_argument("--data-root", default=None, help="folder with the CIFAR python batches")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the train/val split")
    parser.add_argument("--rotation-order", type=int, default=4, help="N of the rotation group C_N (4 or 8)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=32, help="per process under torchrun")
    parser.add_argument("--optimizer", default="adam", choices=("adam", "sgd"))
    parser.add_argument("--schedule", default="none", choices=("none", "cosine", "step"))
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op CPU threads (default: torch's choice; 1 is fastest for tiny "
                             "models on a busy machine)")
    parser.add_argument("--resume", default=None, help="continue from this model.pt")
    parser.add_argument("--out", default=None,
                        help="output folder (default: <workspace>/checkpoints/<model>-<dataset>-s<seed>)")


def run(args: argparse.Namespace) -> int:
    import torch

    from core.datasets import dataset_normalization, load_dataset
    from core.errors import ConfigError
    from core.models import ModelConfig
    from core.training import CHECKPOINT_NAME, METRICS_NAME, TrainConfig, train

    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError("--threads must be >= 1")
        torch.set_num_threads(args.threads)

    train_set = load_dataset(args.dataset, "train", root=args.data_root, split_seed=args.split_seed)
    mean, std = dataset_normalization(args.dataset, train_set.in_channels)
    model_config = ModelConfig(arch=args.model, preset=args.preset, in_channels=train_set.in_channels,
                               num_classes=train_set.num_classes, image_size=train_set.image_size,
                               rotation_order=args.rotation_order, mean=mean, std=std)
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                               lr=args.lr, weight_decay=args.weight_decay, schedule=args.schedule,
                               seed=args.seed, device=args.device)
    out = Path(args.out) if args.out else args.workspace.checkpoints / f"{args.model}-{args.dataset}-s{args.seed}"
    datasets = (train_set,
                load_dataset(args.dataset, "val", root=args.data_root, split_seed=args.split_seed),
                load_dataset(args.dataset, "test", root=args.data_root, split_seed=args.split_seed))
    result = train(model_config, train_config, args.dataset, args.data_root, split_seed=args.split_seed,
                   out=out, resume=args.resume, progress=args.progress, datasets=datasets)
    if result.checkpoint_path is not None:
        lo, hi = result.metrics["test_acc_ci95"]
        close = getattr(args.progress, "close", None)
        if close is not None:
            close()
        print(f"{args.model} on {args.dataset}: test accuracy {result.metrics['test_acc']:.4f} "
              f"(95% CI {lo:.4f}-{hi:.4f}); wrote {out / CHECKPOINT_NAME} and {out / METRICS_NAME}")
    return 0
