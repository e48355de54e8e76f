"""Worst-case robustness of one model: the ensemble, weak references, the masking checks, one report.

:func:`evaluate_worst_case` runs, on the same images and ε:

* the AutoAttack-style ensemble (``standard`` or ``fast``), plus its run at a
  large ε for the ``large_eps`` check;
* PGD-10 and FGSM, *weak* attacks kept only to compare with the literature;
* optionally one more attack asked for by name (``attack --attack apgd-t``…);
* with ``checks``: a transfer attack from a surrogate (when given) and the
  zero-gradient count, then the five masking checks (:mod:`core.robustness.masking`).

The headline is the **per-image worst case over every attack run**: an image
is robust only if no attack broke it.  When the checks pass, that is the
ensemble's own figure; when a weak, transfer or extra attack broke an image
the ensemble missed, the headline still counts it and the check says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from torch import Tensor, nn

from core.attacks import FGSM, PGD, Attack, AutoAttack
from core.attacks.transfer import Transfer
from core.progress import ProgressCallback
from core.robustness.curves import accuracy
from core.robustness.masking import (MaskingCheck, MaskingThresholds, masking_checks, suspicious,
                                     zero_gradient_fraction)
from core.robustness.outcomes import AttackOutcome, run_attack
from core.robustness.sharding import SINGLE
from core.training.distributed import DistContext

__all__ = ["WorstCaseEvaluation", "evaluate_worst_case", "LARGE_EPS", "WEAK_LABEL"]

#: The large radius of the ``large_eps`` check (L∞, pixel units).
LARGE_EPS = 64 / 255
WEAK_LABEL = "weak attack: fixed-step PGD/FGSM, kept only to compare with the paper; never the headline"


@dataclass
class WorstCaseEvaluation:
    """Everything :func:`evaluate_worst_case` measured; :meth:`to_dict` is the report section."""

    eps: list[float]
    clean_accuracy: float
    ensemble: AttackOutcome
    weak: dict[str, AttackOutcome]
    extra: AttackOutcome | None = None
    large: AttackOutcome | None = None
    transfer: AttackOutcome | None = None
    zero_gradient: float | None = None
    checks: list[MaskingCheck] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def worst(self) -> AttackOutcome:
        """Per image, robust only if every attack run failed; ``broken_by`` names who broke it first."""
        others = [o for o in (*self.weak.values(), self.extra, self.transfer) if o is not None]
        robust = self.ensemble.robust.copy()
        broken = self.ensemble.broken_by.copy()
        names = list(self.ensemble.attacks)
        for outcome in others:
            names.append(outcome.name)
            newly = robust & ~outcome.robust  # (S, E, N); a one-row outcome broadcasts over seeds
            broken[newly] = len(names)
            robust &= outcome.robust
        return AttackOutcome("worst case", list(self.eps), robust, list(self.ensemble.seeds), broken, tuple(names),
                             {"attacks": names, "per_image": True})

    @property
    def suspicious(self) -> bool:
        return suspicious(self.checks)

    def to_dict(self) -> dict:
        worst = self.worst()
        report = {
            "headline": {"what": "per-image worst case over every attack run (robust only if all failed)",
                         **worst.to_dict()},
            "ensemble": {**self.ensemble.to_dict(), **self.meta},
            "weak": {name: {**o.to_dict(), "label": WEAK_LABEL} for name, o in self.weak.items()},
            "masking_checks": [c.to_dict() for c in self.checks],
            "suspicious": self.suspicious,
        }
        if self.extra is not None:
            report["attack"] = self.extra.to_dict()
        if self.transfer is not None:
            report["transfer"] = self.transfer.to_dict()
        return report

    def summary_lines(self) -> list[str]:
        """What the CLI prints: headline, weak reference, each check."""
        def fmt(curve_means) -> str:
            return ", ".join(f"{e * 255:.4g}/255: {100 * m:.1f}%" for e, m in zip(self.eps, curve_means))

        lines = [f"worst case ({' + '.join(self.worst().attacks)}), robust accuracy by eps: "
                 f"{fmt(self.worst().accuracy().mean(axis=0))}"]
        for name, outcome in self.weak.items():
            lines.append(f"{name} (weak, for comparison with the paper only): {fmt(outcome.accuracy().mean(axis=0))}")
        lines += [f"masking check {c.name}: {c.status} - {c.detail}" for c in self.checks]
        if self.suspicious:
            lines.append("SUSPICIOUS: a gradient-masking check failed; robust accuracy may be overestimated")
        return lines


def evaluate_worst_case(model: nn.Module, images: Tensor, labels: Tensor, eps: Sequence[float], *,
                        version: str = "standard", norm: str = "inf", seeds: Sequence[int] = (0,),
                        extra: Attack | None = None, surrogate: nn.Module | None = None,
                        surrogate_name: str | None = None, checks: bool = True, large_eps: float = LARGE_EPS,
                        steps: int | None = None, n_queries: int | None = None, weak_steps: int = 10,
                        batch_size: int = 128, keep_eps: Sequence[int] = (), dist: DistContext = SINGLE,
                        thresholds: MaskingThresholds = MaskingThresholds(),
                        progress: ProgressCallback | None = None) -> WorstCaseEvaluation:
    """Evaluate ``model`` on ``images (N, C, H, W)`` / ``labels (N,)`` at every ε (see the module notes).

    Args:
        version, norm, steps, n_queries: the ensemble (:class:`core.attacks.AutoAttack`).
        seeds: attack seeds (each gives one row per curve; CIs over them).
        extra: one more attack whose successes also count for the worst case.
        surrogate: a plain model trained on the same data, for the transfer check.
        large_eps: the radius of the ``large_eps`` check (L∞ only).
        keep_eps: indices of ``eps`` whose ensemble adversarials to keep (first seed).
        dist: split the batches over ``torchrun`` ranks; every rank returns the full result.
    """
    eps = [float(e) for e in eps]
    common = dict(seeds=seeds, batch_size=batch_size, dist=dist, progress=progress)
    ensemble_attack = AutoAttack(model, eps, version=version, norm=norm, steps=steps, n_queries=n_queries)
    meta = {"version": version, "norm": ensemble_attack.norm, "budget": ensemble_attack.budget()}
    with_large = checks and ensemble_attack.norm == "inf" and large_eps not in eps
    run_eps = eps + ([large_eps] if with_large else [])
    both = run_attack(ensemble_attack, images, labels, run_eps, name=f"autoattack-{version}", keep_eps=keep_eps,
                      meta=meta, **common)
    ensemble = both.select(range(len(eps)))
    large = both.select([len(eps)]) if with_large else (both.select([eps.index(large_eps)]) if checks and
                                                        large_eps in eps else None)
    weak = {f"pgd-{weak_steps}": run_attack(PGD(model, eps, norm=ensemble_attack.norm, steps=weak_steps), images,
                                            labels, eps, name=f"pgd-{weak_steps}",
                                            meta={"steps": weak_steps, "alpha": "2.5*eps/steps", "random_start": True},
                                            **common)}
    if ensemble_attack.norm == "inf":
        weak["fgsm"] = run_attack(FGSM(model, eps), images, labels, eps, name="fgsm", meta={"steps": 1},
                                  **{**common, "seeds": list(seeds)[:1]})
    result = WorstCaseEvaluation(eps, accuracy(model, images, labels), ensemble, weak, meta=meta)
    if extra is not None:
        result.extra = run_attack(extra, images, labels, eps, name=f"extra:{extra.name}", **common)
    if checks:
        if surrogate is not None:
            result.transfer = run_attack(Transfer(model, surrogate, eps, norm=ensemble_attack.norm), images, labels,
                                         eps, name="transfer", meta={"surrogate": surrogate_name, "source": "apgd-ce"},
                                         **common)
        result.zero_gradient = zero_gradient_fraction(model, images, labels)
        result.checks = masking_checks(worst=ensemble, large=large, weak=weak[f"pgd-{weak_steps}"],
                                       transfer=result.transfer, zero_gradient=result.zero_gradient,
                                       thresholds=thresholds)
    return result

