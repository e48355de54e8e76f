"""The design of ``reproduce equiguard``: conditions, sizes and the grid of runs.

Per phantom (brain, CXR) x cue (none, corner, gradient, stripes) there are
five conditions: the 2 x 2 of backbone (``conv4`` vs :data:`SYMMETRY_BACKBONE`)
x training (unguided vs Dice-guided), plus RRR guidance on ``conv4`` so that
Dice and RRR meet on every cue.  Seed ``s`` is the data *and* the training
seed of a run and every run uses the same evaluation seed, so all conditions
of one (phantom, cue, seed) see the same patients and the same test episodes:
every comparison between conditions is paired by seed.

This module imports nothing heavy: the command line lists it at ``--help``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

from core.errors import ConfigError

__all__ = ["DATASETS", "CUES", "SYMMETRY_BACKBONE", "BACKBONES", "RRR_ALPHA", "TRAININGS", "CONDITIONS", "Condition",
           "EquiGuardSizes", "FULL", "QUICK", "grid", "check_choice"]

DATASETS = ("brain-phantom", "cxr-phantom")
#: "none" is the cue-free data; the others are the phantom generators' ``cue_kind``s.
CUES = ("none", "corner", "gradient", "stripes")
#: The symmetry-aware backbone (docs/science/equiguard.md says why this one).
SYMMETRY_BACKBONE = "equivariant"
BACKBONES = ("conv4", SYMMETRY_BACKBONE)
#: Weight of the RRR penalty (its scale differs from the Dice loss's; see docs/science/equiguard.md).
RRR_ALPHA = 1.0
#: training name -> TrainConfig overrides (Dice: alpha 1 and the recommended CAM target, order, normalisation).
TRAININGS: dict[str, dict] = {"unguided": {"guidance": "none"}, "dice": {"guidance": "dice"},
                              "rrr": {"guidance": "rrr", "alpha": RRR_ALPHA}}


@dataclass(frozen=True)
class Condition:
    backbone: str
    training: str

    @property
    def label(self) -> str:
        return f"{self.backbone} {self.training}"


CONDITIONS: tuple[Condition, ...] = tuple(Condition(b, t) for b in BACKBONES for t in ("unguided", "dice")) + (
    Condition("conv4", "rrr"),)


@dataclass(frozen=True)
class EquiGuardSizes:
    """Every size of the experiment (stored in ``results.json``).

    Training and clean evaluation follow :class:`core.fewshot.reproduction.Sizes`;
    ``robust_episodes`` are the first test episodes of the same seeded stream,
    whose queries are attacked at each ``eps`` (L∞, pixel units) by the fast
    AutoAttack-style ensemble, rotated by each angle and rescaled by each factor.
    """

    patients: int
    slices: int
    size: int
    hidden: int
    embed_dim: int
    episodes: int
    eval_episodes: int
    cam_episodes: int
    robust_episodes: int
    eps: tuple[float, ...] = (0.25 / 255, 1 / 255)
    angles: tuple[float | str, ...] = (90.0, "random")
    scales: tuple[float, ...] = (0.8, 1.25)
    attack_version: str = "fast"
    attack_steps: int | None = None
    n_queries: int | None = None

    def run_sizes(self):
        """The training/clean-evaluation part as :class:`core.fewshot.reproduction.Sizes`."""
        from core.fewshot.reproduction import Sizes

        return Sizes(**{k: v for k, v in asdict(self).items() if k in Sizes.__dataclass_fields__})


#: Fitted to the time the machine allowed: about 35 minutes for 3 seeds in 2 worker processes on two cores
#: shared with other jobs (docs/science/equiguard.md, "Sizes").
FULL = EquiGuardSizes(patients=48, slices=4, size=48, hidden=16, embed_dim=64, episodes=80, eval_episodes=60,
                      cam_episodes=1, robust_episodes=2, n_queries=100)
QUICK = EquiGuardSizes(patients=24, slices=3, size=32, hidden=4, embed_dim=8, episodes=3, eval_episodes=4,
                       cam_episodes=1, robust_episodes=1, attack_steps=3, n_queries=10)


def check_choice(values: Sequence[str] | None, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    """``values`` (``None`` = all of ``allowed``) checked against ``allowed``, in the given order, no repeats."""
    if values is None:
        return tuple(allowed)
    chosen = tuple(dict.fromkeys(values))
    bad = [v for v in chosen if v not in allowed]
    if bad or not chosen:
        raise ConfigError(f"unknown {what} {bad[0]!r}; choose from {', '.join(allowed)}" if bad
                          else f"choose at least one {what}")
    return chosen


def grid(sizes: EquiGuardSizes, seeds: Sequence[int], datasets: Sequence[str] = DATASETS,
         cues: Sequence[str] = CUES) -> list[dict]:
    """One run per seed x phantom x cue x condition (seed = data seed = training seed).

    Seeds come first, so an experiment stopped part-way has whole seeds finished.

    Each run is a :func:`core.fewshot.reproduction.make_run` dict (``name``,
    ``config``, ``dataset``, ``spurious``, ``arm``, seeds) plus ``cue``,
    ``backbone``, ``training`` and ``seed``.
    """
    from dataclasses import replace

    from core.fewshot.reproduction import make_run

    if not seeds:
        raise ConfigError("give at least one seed")
    run_sizes = sizes.run_sizes()
    runs = []
    for seed in seeds:
        for dataset in datasets:
            for cue in cues:
                for cond in CONDITIONS:
                    run = make_run(dataset, cue != "none", cond.label, TRAININGS[cond.training], seed, seed,
                                   run_sizes, cue_kind="corner" if cue == "none" else cue)
                    run["config"] = replace(run["config"], backbone=cond.backbone)
                    run.update(cue=cue, backbone=cond.backbone, training=cond.training, seed=seed)
                    runs.append(run)
    return runs
