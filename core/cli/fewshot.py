"""``fewshot``: train and evaluate an (expert-guided) prototypical network."""

from __future__ import annotations

import argparse

NAME = "fewshot"
HELP = "train a prototypical network with/without Grad-CAM guidance and evaluate it episodically on held-out patients"

_DATASETS = ("brain-phantom", "cxr-phantom", "brats", "vindr", "store")
# Duplicated from core.fewshot.BACKBONES so that --help never imports torch.
_BACKBONES = ("conv4", "resnet18", "densenet121", "parallel_rot", "parallel_scale", "parallel_rot_scale", "cascaded",
              "equivariant")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = parser.add_argument_group("data")
    d.add_argument("--dataset", choices=_DATASETS, default="brain-phantom",
                   help="phantoms are synthetic (not clinical data); brats/vindr need --data-root; store reads the workspace")
    d.add_argument("--data-root", default=None, help="BraTS folder of case folders, or VinDr folder with train.csv")
    d.add_argument("--vindr-merge", choices=("union", "majority", "single"), default="union",
                   help="VinDr: merge the readers' boxes as a union, by majority, or take a single reader")
    d.add_argument("--vindr-reader", default=None, help="VinDr: reader id (rad_id) for --vindr-merge single")
    d.add_argument("--size", type=int, default=64, help="image side after resizing (default 64)")
    d.add_argument("--patients", type=int, default=48, help="phantom patients (default 48)")
    d.add_argument("--slices", type=int, default=4, help="phantom images per patient (default 4)")
    d.add_argument("--test-fraction", type=float, default=0.5, help="share of patients held out for testing")
    d.add_argument("--spurious", action="store_true",
                   help="phantoms: corner marker tied to the class in training patients, random in test patients")
    e = parser.add_argument_group("episodes")
    e.add_argument("--way", type=int, default=3)
    e.add_argument("--shot", type=int, default=5)
    e.add_argument("--query", type=int, default=5)
    e.add_argument("--episodes", type=int, default=200, help="training episodes")
    e.add_argument("--eval-episodes", type=int, default=300, help="test episodes (accuracy)")
    e.add_argument("--cam-episodes", type=int, default=50, help="test episodes whose queries get Grad-CAM alignment")
    m = parser.add_argument_group("model")
    m.add_argument("--backbone", choices=_BACKBONES, default="conv4",
                   help="conv4 (Snell et al.), resnet18/densenet121 (torchvision), or a symmetry-aware network "
                        "from core.models laid out like conv4 (--hidden is its base width); equivariant gives "
                        "embeddings invariant to 90-degree rotations")
    m.add_argument("--weights", default=None, help="local state-dict file for resnet18/densenet121 (never downloaded)")
    m.add_argument("--hidden", type=int, default=64, help="conv4 width")
    m.add_argument("--embed-dim", type=int, default=64)
    m.add_argument("--metric", choices=("squared_euclidean", "euclidean", "cosine"), default="squared_euclidean")
    m.add_argument("--normalize", action="store_true", help="L2-normalise embeddings (the paper's head)")
    t = parser.add_argument_group("training")
    t.add_argument("--guidance", choices=("dice", "rrr", "none"), default="dice")
    t.add_argument("--alpha", type=float, default=0.1, help="weight of the explanation loss (paper: 0.1 BraTS, 0.01 VinDr)")
    t.add_argument("--cam-score", choices=("distance", "log_prob"), default="distance",
                   help="Grad-CAM target: -distance to the true prototype (paper) or its episode log-probability")
    t.add_argument("--first-order", action="store_true", help="detach Grad-CAM weights (the paper's code)")
    t.add_argument("--guide-support", action="store_true", help="also apply the explanation loss to support images")
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="output folder (default: <workspace>/checkpoints/fewshot/<run>)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.errors import ConfigError
    from core.fewshot import RunConfig, TrainConfig, run_fewshot

    for name in ("size", "patients", "slices", "way", "shot", "query", "episodes", "eval_episodes", "hidden", "embed_dim"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
    if args.cam_episodes < 0:
        raise ConfigError("--cam-episodes must be >= 0")
    train = TrainConfig(way=args.way, shot=args.shot, query=args.query, episodes=args.episodes, lr=args.lr,
                        alpha=args.alpha, guidance=args.guidance, first_order=args.first_order,
                        guide_support=args.guide_support, cam_score=args.cam_score, seed=args.seed)
    train.validate()
    config = RunConfig(dataset=args.dataset, data_root=args.data_root, backbone=args.backbone, hidden=args.hidden,
                       embed_dim=args.embed_dim, metric=args.metric, normalize=args.normalize, weights=args.weights,
                       spurious=args.spurious, patients=args.patients, slices=args.slices, size=args.size,
                       test_fraction=args.test_fraction, eval_episodes=args.eval_episodes,
                       cam_episodes=args.cam_episodes, vindr_merge=args.vindr_merge,
                       vindr_reader=args.vindr_reader, train=train)
    out = Path(args.out) if args.out else (args.workspace.checkpoints / "fewshot" /
                                           f"{args.dataset}-{args.guidance}-seed{args.seed}")
    result = run_fewshot(config, out, progress=args.progress, workspace=args.workspace)
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    acc = result["accuracy"]
    dice = result["alignment"]["dice"]
    print(f"accuracy {100 * acc['mean']:.2f} +- {100 * acc['ci95']:.2f} % over {acc['n']} test episodes "
          f"({result['data']['test_patients']} held-out patients)")
    print(f"CAM-ROI soft Dice {dice['mean']:.3f} +- {dice['ci95']:.3f} over {dice['n']} episodes")
    print(f"wrote {out / 'checkpoint.pt'} and {out / 'metrics.json'}")
    return 0
