"""``train``: train a symmetry-aware CNN on digits, CIFAR or medical images; writes model.pt and metrics.json.

Medical datasets are split by patient; the checkpoint records the dataset as
its spec (e.g. ``brain-phantom:size=128,spurious=1``), which ``attack``,
``clever`` and ``transforms`` accept as ``--dataset`` to rebuild the same split.
Run under ``torchrun --nproc_per_node=K -m core train ...`` for DistributedDataParallel.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "train"
HELP = ("train a baseline / parallel / cascaded / equivariant CNN on digits, CIFAR or medical images "
        "(writes model.pt and metrics.json)")

# Duplicated from core.models / core.datasets so that --help never imports torch.
_ARCHS = ("baseline", "parallel_rot", "parallel_scale", "parallel_rot_scale", "cascaded", "equivariant")
_MEDICAL = ("brain-phantom", "cxr-phantom", "store", "brats", "vindr")
_DATASETS = ("digits", "cifar10", "cifar100", *_MEDICAL)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, choices=_ARCHS, help="architecture")
    parser.add_argument("--preset", default="tiny", choices=("tiny", "paper"),
                        help="tiny: seconds on a CPU; paper: the paper's widths (GPU)")
    parser.add_argument("--dataset", default="digits", choices=_DATASETS,
                        help="phantoms are synthetic (not clinical data); brats/vindr need --data-root; "
                             "store reads the workspace's labelled images")
    parser.add_argument("--data-root", default=None,
                        help="folder with the CIFAR python batches, BraTS case folders or VinDr train.csv")
    parser.add_argument("--split-seed", type=int, default=0,
                        help="seed of the train/val(/test) split; phantoms: also of the generated patients")
    m = parser.add_argument_group("medical datasets (split by patient)")
    m.add_argument("--size", type=int, default=None, help="image side after resizing (default 64)")
    m.add_argument("--patients", type=int, default=None, help="phantom patients (default 48)")
    m.add_argument("--slices", type=int, default=None, help="phantom images per patient (default 4)")
    m.add_argument("--spurious", action="store_true",
                   help="phantoms: corner marker tied to the class in training/validation patients, "
                        "random in test patients")
    m.add_argument("--test-fraction", type=float, default=None, help="share of patients held out for testing (0.3)")
    m.add_argument("--val-fraction", type=float, default=None,
                   help="share of the remaining patients used for validation (0.2)")
    m.add_argument("--vindr-merge", choices=("union", "majority", "single"), default=None,
                   help="VinDr: merge the readers' boxes as a union, by majority, or take a single reader")
    m.add_argument("--vindr-reader", default=None, help="VinDr: reader id (rad_id) for --vindr-merge single")
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

    dataset, root = _dataset_spec(args)
    medical = args.dataset in _MEDICAL
    if not medical:
        datasets = tuple(load_dataset(dataset, split, root=root, split_seed=args.split_seed)
                         for split in ("train", "val", "test"))
    else:  # medical: one read of the source, split by patient
        from core.datasets import load_medical_splits

        datasets = load_medical_splits(dataset, root, split_seed=args.split_seed)
    train_set = datasets[0]
    mean, std = dataset_normalization(dataset, train_set.in_channels)
    model_config = ModelConfig(arch=args.model, preset=args.preset, in_channels=train_set.in_channels,
                               num_classes=train_set.num_classes, image_size=train_set.image_size,
                               rotation_order=args.rotation_order, mean=mean, std=std)
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                               lr=args.lr, weight_decay=args.weight_decay, schedule=args.schedule,
                               seed=args.seed, device=args.device)
    run = f"{args.dataset}-{train_set.image_size}" if medical else args.dataset
    out = Path(args.out) if args.out else args.workspace.checkpoints / f"{args.model}-{run}-s{args.seed}"
    result = train(model_config, train_config, dataset, root, split_seed=args.split_seed,
                   out=out, resume=args.resume, progress=args.progress, datasets=datasets)
    if result.checkpoint_path is not None:
        lo, hi = result.metrics["test_acc_ci95"]
        close = getattr(args.progress, "close", None)
        if close is not None:
            close()
        print(f"{args.model} on {dataset}: test accuracy {result.metrics['test_acc']:.4f} "
              f"(95% CI {lo:.4f}-{hi:.4f}); wrote {out / CHECKPOINT_NAME} and {out / METRICS_NAME}")
    return 0


def _dataset_spec(args: argparse.Namespace) -> tuple[str, str | None]:
    """(dataset name or medical spec, data root) from the options; medical options on other data are errors."""
    from core.errors import ConfigError

    given = {name: getattr(args, name) for name in ("size", "patients", "slices", "test_fraction", "val_fraction",
                                                    "vindr_merge", "vindr_reader")
             if getattr(args, name) is not None}
    if args.dataset not in _MEDICAL:
        if given or args.spurious:
            flags = ", ".join(f"--{k.replace('_', '-')}" for k in [*given, *(["spurious"] if args.spurious else [])])
            raise ConfigError(f"{flags} only apply to the medical datasets ({', '.join(_MEDICAL)})")
        return args.dataset, args.data_root
    from core.datasets import MedicalOptions, make_spec

    keys = {"size": "size", "patients": "patients", "slices": "slices", "test_fraction": "test",
            "val_fraction": "val", "vindr_merge": "merge", "vindr_reader": "reader"}
    options = MedicalOptions(spurious=args.spurious, **{keys[k]: v for k, v in given.items()})
    root = str(args.workspace.root) if args.dataset == "store" else args.data_root
    return make_spec(args.dataset, options), root
