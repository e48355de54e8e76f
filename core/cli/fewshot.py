"""``fewshot``: train and evaluate an (expert-guided) prototypical network.

Every option left out takes its value from ``--preset`` (``recommended`` by
default, or ``paper``): :mod:`core.fewshot_defaults` is the one source of
these defaults for the Python API, this command and the studio.
"""

from __future__ import annotations

import argparse

from core.fewshot_defaults import DEFAULT_PRESET, DEFAULTS, PAPER, PRESETS, parse_seed

NAME = "fewshot"
HELP = "train a prototypical network with/without Grad-CAM guidance and evaluate it episodically on held-out patients"

# Duplicated from core.fewshot / core.explain so that --help never imports torch (tests check they agree).
_DATASETS = ("brain-phantom", "cxr-phantom", "brats", "vindr", "store")
_CUE_KINDS = ("corner", "gradient", "stripes")
_CAM_NORMS = ("minmax", "sum", "sigmoid", "softmax")
_BACKBONES = ("conv4", "resnet18", "densenet121", "parallel_rot", "parallel_scale", "parallel_rot_scale", "cascaded",
              "equivariant")

#: CLI option -> TrainConfig field, for the options a preset sets.
_TRAIN_OPTIONS = {"way": "way", "shot": "shot", "query": "query", "episodes": "episodes", "lr": "lr",
                  "alpha": "alpha", "guidance": "guidance", "first_order": "first_order",
                  "guide_support": "guide_support", "cam_score": "cam_score", "cam_norm": "cam_norm",
                  "train_seed": "seed", "train_disjoint": "patient_disjoint"}
#: CLI options that are RunConfig fields of the same name.
_RUN_OPTIONS = ("backbone", "hidden", "embed_dim", "size", "patients", "slices", "test_fraction", "metric",
                "normalize", "eval_episodes", "cam_episodes", "data_seed", "eval_seed", "eval_disjoint")
_POSITIVE = ("size", "patients", "slices", "eval_episodes", "hidden", "embed_dim")


def _default(name: str) -> str:
    """``(default X)``, plus the paper preset's value where it differs."""
    ours, paper = getattr(DEFAULTS, name), getattr(PAPER, name)
    text = f"default {ours}" if ours == paper else f"default {ours}; --preset paper: {paper}"
    return f"({text})".replace("%", "%%")


def seed_arg(what: str):
    """argparse ``type`` for a seed: a whole number, else one clear message naming ``what``."""
    def parse(text: str) -> int:
        try:
            return parse_seed(text, what)
        except ValueError as exc:  # ConfigError is a ValueError
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    B = argparse.BooleanOptionalAction
    parser.add_argument("--preset", choices=tuple(PRESETS), default=DEFAULT_PRESET,
                        help="defaults for every option not given: recommended (our measurements) or paper "
                             "(the MICCAI code: -distance target, alpha 0.1, first order, lr 1e-4, L2-normalised "
                             "Euclidean head); see docs/science/fewshot.md")
    d = parser.add_argument_group("data")
    d.add_argument("--dataset", choices=_DATASETS, default="brain-phantom",
                   help="phantoms are synthetic (not clinical data); brats/vindr need --data-root; store reads the workspace")
    d.add_argument("--data-root", default=None, help="BraTS folder of case folders, or VinDr folder with train.csv")
    d.add_argument("--vindr-merge", choices=("union", "majority", "single"), default="union",
                   help="VinDr: merge the readers' boxes as a union, by majority, or take a single reader")
    d.add_argument("--vindr-reader", default=None, help="VinDr: reader id (rad_id) for --vindr-merge single")
    d.add_argument("--roi-source", default="union", metavar="SOURCE",
                   help="store: whose ROIs guide training: union (default), majority, staple, consensus "
                        "(adjudicator, else STAPLE) or reader:NAME")
    d.add_argument("--size", type=int, default=None, help=f"image side after resizing {_default('size')}")
    d.add_argument("--patients", type=int, default=None, help=f"phantom patients {_default('patients')}")
    d.add_argument("--slices", type=int, default=None, help=f"phantom images per patient {_default('slices')}")
    d.add_argument("--test-fraction", type=float, default=None,
                   help=f"share of patients held out for testing {_default('test_fraction')}")
    d.add_argument("--spurious", nargs="?", const="corner", choices=_CUE_KINDS, default=None,
                   help="phantoms: a spurious cue tied to the class in training patients and random in test "
                        "patients: corner marker (default), diffuse gradient or background stripes")
    d.add_argument("--data-seed", type=seed_arg("data seed"), default=None,
                   help=f"generates the phantoms / splits real data by patient {_default('data_seed')}")
    e = parser.add_argument_group("episodes")
    e.add_argument("--way", type=int, default=None, help=_default("way"))
    e.add_argument("--shot", type=int, default=None, help=_default("shot"))
    e.add_argument("--query", type=int, default=None, help=_default("query"))
    e.add_argument("--episodes", type=int, default=None, help=f"training episodes {_default('episodes')}")
    e.add_argument("--eval-episodes", type=int, default=None, help=f"test episodes (accuracy) {_default('eval_episodes')}")
    e.add_argument("--cam-episodes", type=int, default=None,
                   help=f"test episodes whose queries get Grad-CAM alignment {_default('cam_episodes')}")
    e.add_argument("--eval-disjoint", action=B, default=None,
                   help=f"test episodes take support and query from different patients {_default('eval_disjoint')}")
    e.add_argument("--train-disjoint", action=B, default=None,
                   help=f"training episodes too {_default('train_disjoint')}")
    e.add_argument("--eval-seed", type=seed_arg("evaluation seed"), default=None,
                   help=f"draws the test episodes {_default('eval_seed')}")
    m = parser.add_argument_group("model")
    m.add_argument("--backbone", choices=_BACKBONES, default=None,
                   help="conv4 (Snell et al.), resnet18/densenet121 (torchvision), or a symmetry-aware network "
                        "from core.models laid out like conv4 (--hidden is its base width); equivariant gives "
                        f"embeddings invariant to 90-degree rotations {_default('backbone')}")
    m.add_argument("--weights", default=None, help="local state-dict file for resnet18/densenet121 (never downloaded)")
    m.add_argument("--hidden", type=int, default=None, help=f"conv4 width {_default('hidden')}")
    m.add_argument("--embed-dim", type=int, default=None, help=_default("embed_dim"))
    m.add_argument("--metric", choices=("squared_euclidean", "euclidean", "cosine"), default=None,
                   help=_default("metric"))
    m.add_argument("--normalize", action=B, default=None, help=f"L2-normalise embeddings {_default('normalize')}")
    t = parser.add_argument_group("training")
    t.add_argument("--guidance", choices=("dice", "rrr", "none"), default=None, help=_default("guidance"))
    t.add_argument("--alpha", type=float, default=None, help=f"weight of the explanation loss {_default('alpha')}")
    t.add_argument("--cam-score", choices=("distance", "log_prob"), default=None,
                   help="Grad-CAM target: the true class's episode log-probability or -distance to its prototype "
                        f"(the paper) {_default('cam_score')}; alignment is reported with this target")
    t.add_argument("--first-order", action=B, default=None,
                   help=f"detach Grad-CAM's channel weights, as the paper's code does {_default('first_order')}")
    t.add_argument("--cam-norm", choices=_CAM_NORMS, default=None,
                   help=f"CAM normalisation before the Dice loss {_default('cam_norm')}")
    t.add_argument("--guide-support", action=B, default=None,
                   help=f"also apply the explanation loss to support images {_default('guide_support')}")
    t.add_argument("--lr", type=float, default=None, help=_default("lr"))
    t.add_argument("--train-seed", "--seed", dest="train_seed", type=seed_arg("training seed"), default=None,
                   help=f"initialises the model and draws the training episodes {_default('train_seed')}")
    parser.add_argument("--out", default=None,
                        help="output folder (default: <workspace>/checkpoints/fewshot/<dataset>-<guidance>-d<data seed>-t<train seed>)")


def run_config(args: argparse.Namespace):
    """The :class:`core.fewshot.RunConfig` that ``args`` describe (preset values for options left out)."""
    from core.errors import ConfigError
    from core.fewshot import RunConfig

    train = {field: getattr(args, opt) for opt, field in _TRAIN_OPTIONS.items() if getattr(args, opt) is not None}
    options = {name: getattr(args, name) for name in _RUN_OPTIONS if getattr(args, name) is not None}
    if args.spurious is not None:
        options.update(spurious=True, cue_kind=args.spurious)
    config = RunConfig.from_preset(args.preset, train=train, dataset=args.dataset, data_root=args.data_root,
                                   weights=args.weights, vindr_merge=args.vindr_merge,
                                   vindr_reader=args.vindr_reader, roi_source=args.roi_source, **options)
    for name in _POSITIVE:
        if getattr(config, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("way", "shot", "query", "episodes"):
        if getattr(config.train, name) < 1:
            raise ConfigError(f"--{name} must be at least 1")
    if config.cam_episodes < 0:
        raise ConfigError("--cam-episodes must be >= 0")
    config.train.validate()
    return config


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.fewshot import run_fewshot

    config = run_config(args)
    t = config.train
    out = Path(args.out) if args.out else (args.workspace.checkpoints / "fewshot" /
                                           f"{config.dataset}-{t.guidance}-d{config.data_seed}-t{t.seed}")
    result = run_fewshot(config, out, progress=args.progress, workspace=args.workspace)
    close = getattr(args.progress, "close", None)
    if close is not None:
        close()
    acc = result["accuracy"]
    dice = result["alignment"]["dice"]
    rule = "support and query from different patients" if result["patient_disjoint"] else "same-patient episodes allowed"
    print(f"accuracy {100 * acc['mean']:.2f} +- {100 * acc['ci95']:.2f} % over {acc['n']} test episodes "
          f"({result['data']['test_patients']} held-out patients; {rule})")
    print(f"CAM-ROI soft Dice {dice['mean']:.3f} +- {dice['ci95']:.3f} over {dice['n']} episodes "
          f"(Grad-CAM target: {result['alignment_target']})")
    print(f"seeds: data {config.data_seed}, training {t.seed}, evaluation {config.eval_seed}")
    print(f"wrote {out / 'checkpoint.pt'} and {out / 'metrics.json'}")
    return 0
