"""What ``reproduce equiguard`` measures on each trained run, and the run's metrics as one flat dict.

:class:`RobustnessEvaluation` is the :data:`core.fewshot.runner.RunEvaluation`
hook of the grid: in the worker, right after training, it runs
:func:`core.fewshot.robustness.run_report` on the run folder (worst-case
attack at each ε, rotations, rescalings; the first ``robust_episodes`` test
episodes of the run's evaluation seed, so every condition of a seed meets the
same episodes).  :func:`run_metrics` then reads one number per metric from a
run's result (fresh or from the resume cache):

* ``accuracy``: clean episodic accuracy over all ``eval_episodes``;
* ``subset_accuracy``: clean accuracy of the queries the perturbations below
  use (the first ``robust_episodes``): the reference for them;
* ``dice`` / ``pointing``: CAM-ROI soft Dice and pointing game of the clean
  queries of the robustness episodes (Grad-CAM of the log-probability target);
* ``attack_accuracy@ε`` / ``attack_dice@ε``: the same queries under the worst case;
* ``rot90_accuracy``, ``rot_random_accuracy``: queries rotated by 90° / by a
  seeded uniform angle, support upright;
* ``rescale_accuracy``: the mean over the rescaling factors (each factor's
  accuracy is kept too, as ``rescale_accuracy@f``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from core.reproduce.equiguard_design import EquiGuardSizes

__all__ = ["RobustnessEvaluation", "metric_names", "run_metrics", "eps_label"]


def eps_label(eps: float) -> str:
    """``2/255`` for multiples of 1/255 (and of a quarter of it, ``0.25/255``), else the plain number."""
    n = eps * 255
    if abs(n * 4 - round(n * 4)) < 1e-6:
        return f"{n:g}/255"
    return f"{eps:g}"


@dataclass(frozen=True)
class RobustnessEvaluation:
    """The grid's per-run evaluation hook (picklable; its fields enter the resume key)."""

    sizes: EquiGuardSizes

    @property
    def cache_key(self) -> str:
        return f"equiguard-robustness:{asdict(self.sizes)}"

    def __call__(self, run: dict, folder: Path) -> dict:
        from core.fewshot.robustness import run_report

        s = self.sizes
        report = run_report(folder, episodes=s.robust_episodes, eps=s.eps, angles=s.angles, scales=s.scales,
                            attack_version=s.attack_version, attack_steps=s.attack_steps, n_queries=s.n_queries)
        return {"robustness": report}


def metric_names(sizes: EquiGuardSizes) -> list[str]:
    """The metrics of :func:`run_metrics`, in table order."""
    names = ["accuracy", "subset_accuracy", "dice", "pointing"]
    names += [f"attack_accuracy@{eps_label(e)}" for e in sizes.eps]
    names += [f"attack_dice@{eps_label(e)}" for e in sizes.eps]
    names += ["rot90_accuracy", "rot_random_accuracy", "rescale_accuracy"]
    return names


def _at(curve: dict, metric: str, x) -> float | None:
    xs = [str(v) for v in curve["x"]]
    value = curve[metric][xs.index(str(x))]["mean"]
    return None if value is None or value != value else float(value)


def run_metrics(result: dict, sizes: EquiGuardSizes) -> dict[str, float | None]:
    """One value per :func:`metric_names` entry (plus per-factor rescaling) from a run's result."""
    rob = result["robustness"]
    curves = rob["curves"]
    out: dict[str, float | None] = {"accuracy": float(result["accuracy"]["mean"]),
                                    "subset_accuracy": rob["clean"]["accuracy"]["mean"],
                                    "dice": rob["clean"]["dice"]["mean"], "pointing": rob["clean"]["pointing"]["mean"]}
    for e in sizes.eps:
        x = curves["attack"]["x"][min(range(len(curves["attack"]["x"])),
                                      key=lambda i: abs(float(curves["attack"]["x"][i]) - e))]
        out[f"attack_accuracy@{eps_label(e)}"] = _at(curves["attack"], "accuracy", x)
        out[f"attack_dice@{eps_label(e)}"] = _at(curves["attack"], "dice", x)
    out["rot90_accuracy"] = _at(curves["rotation"], "accuracy", 90.0)
    out["rot_random_accuracy"] = _at(curves["rotation"], "accuracy", "random")
    per_factor = {f: _at(curves["scale"], "accuracy", float(f)) for f in sizes.scales}
    for f, v in per_factor.items():
        out[f"rescale_accuracy@{f:g}"] = v
    values = [v for v in per_factor.values() if v is not None]
    out["rescale_accuracy"] = sum(values) / len(values) if values else None
    return out
