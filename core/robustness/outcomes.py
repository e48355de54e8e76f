"""Per-image outcomes of an attack over a data set: which images stay robust at each ε, per seed.

:func:`run_attack` drives any :class:`core.attacks.Attack` over ``N`` images in
batches (seeded per batch, optionally split across ``torchrun`` ranks, see
:mod:`core.robustness.sharding`).  An image is *robust* at ε when the model
classifies it correctly both clean and attacked: robust accuracy is the mean.
Keeping the per-image outcome, not just the accuracy, is what lets the
worst case be taken per image over several attacks, and the masking checks
ask which attack broke which image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from core.attacks import Attack, AutoAttack
from core.errors import ConfigError
from core.progress import ProgressCallback, ProgressEvent
from core.robustness.curves import Curve, predict
from core.robustness.sharding import SINGLE, batch_generator, gather_by_key, my_batches
from core.training.distributed import DistContext

__all__ = ["AttackOutcome", "run_attack"]


@dataclass
class AttackOutcome:
    """Robust (True) or broken per seed, ε and image.

    Attributes:
        name: the attack, e.g. ``"autoattack-standard"``, ``"pgd-10"``.
        eps: the E radii (pixel units).
        robust: ``(S, E, N)`` bool.
        seeds: the S attack seeds (one row for a deterministic attack).
        broken_by: ``(S, E, N)`` int for ensembles: ``-1`` robust, ``0`` wrong
            when clean, ``i ≥ 1`` broken by ``attacks[i - 1]``; ``None`` otherwise.
        attacks: the ensemble's members in order.
        meta: the budget and options, as reports state them.
        adversarial: ``{ε index: (N, C, H, W)}`` adversarial images of the first
            seed, for the ε indices asked to keep.
    """

    name: str
    eps: list[float]
    robust: np.ndarray
    seeds: list[int]
    broken_by: np.ndarray | None = None
    attacks: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict)
    adversarial: dict[int, Tensor] = field(default_factory=dict, repr=False)

    def accuracy(self) -> np.ndarray:
        """``(S, E)`` robust accuracy per seed and ε."""
        return self.robust.mean(axis=2)

    def curve(self, ci_over: str | None = None) -> Curve:
        """The accuracy-vs-ε :class:`Curve` (CI over the attack seeds)."""
        default = "attack seeds" if len(self.seeds) > 1 else "one attack run"
        return Curve(self.name, list(self.eps), self.accuracy(), list(self.seeds), ci_over or default, dict(self.meta))

    def select(self, eps_indices: Sequence[int]) -> "AttackOutcome":
        """The same outcome restricted to some ε (e.g. to split off a check's large ε)."""
        idx = list(eps_indices)
        keep = {idx.index(i): adv for i, adv in self.adversarial.items() if i in idx}
        return AttackOutcome(self.name, [self.eps[i] for i in idx], self.robust[:, idx], list(self.seeds),
                             None if self.broken_by is None else self.broken_by[:, idx], self.attacks,
                             dict(self.meta), keep)

    def counts(self) -> list[dict[str, int]]:
        """Per ε (first seed): images wrong when clean, broken by each member, still robust."""
        if self.broken_by is None:
            return [{"broken": int((~row).sum()), "robust": int(row.sum())} for row in self.robust[0]]
        names = ("clean_errors", *self.attacks)
        return [{names[i]: int((row == i).sum()) for i in range(len(names))} | {"robust": int((row < 0).sum())}
                for row in self.broken_by[0]]

    def to_dict(self, per_image: bool = False) -> dict:
        """JSON-ready summary: the curve, the budget and (ensembles) who broke how many images."""
        out = {"attack": self.name, **self.curve().to_dict(), "counts": self.counts()}
        if self.attacks:
            out["members"] = list(self.attacks)
        if per_image:
            out["robust"] = self.robust.astype(int).tolist()
            if self.broken_by is not None:
                out["broken_by"] = self.broken_by.tolist()
        return out


def run_attack(attack: Attack, images: Tensor, labels: Tensor, eps: Sequence[float], *, name: str | None = None,
               seeds: Sequence[int] = (0,), batch_size: int = 128, keep_eps: Sequence[int] = (),
               dist: DistContext = SINGLE, progress: ProgressCallback | None = None,
               meta: dict | None = None) -> AttackOutcome:
    """Attack ``images (N, C, H, W)`` with true ``labels (N,)`` at every ε; see :class:`AttackOutcome`.

    Batch ``k`` of seed ``s`` is attacked with :func:`~core.robustness.sharding.batch_generator`,
    so the outcome does not depend on how many ranks share the work.  Under
    ``torchrun`` (``dist.enabled``) each rank attacks its batches and every rank
    returns the gathered outcome.
    """
    if images.ndim != 4 or labels.ndim != 1 or images.shape[0] != labels.shape[0] or images.shape[0] == 0:
        raise ConfigError(f"need images (N, C, H, W) and labels (N,) with N >= 1, got {tuple(images.shape)} "
                          f"and {tuple(labels.shape)}")
    if not seeds:
        raise ConfigError("need at least one attack seed")
    eps = [float(e) for e in eps]
    ensemble = isinstance(attack, AutoAttack)
    batches = my_batches(images.shape[0], batch_size, dist)
    total, done = len(seeds) * len(batches), 0
    local: dict[int, tuple] = {}
    for s, seed in enumerate(seeds):
        for k, rows in batches:
            x, y = images[rows], labels[rows]
            generator = batch_generator(seed, k)
            if ensemble:
                result = attack.evaluate(x, y, eps=eps, generator=generator)
                adv, broken = result.adversarial, result.broken_by.cpu().numpy()
                robust, attacks = broken < 0, result.attacks
            else:
                adv = attack(x, y, eps=eps, generator=generator)  # (E, b, C, H, W)
                clean_ok = (predict(attack.model, x) == y.cpu()).numpy()
                pred = predict(attack.model, adv.flatten(0, 1)).view(len(eps), -1)
                robust, broken, attacks = (pred == y.cpu()[None]).numpy() & clean_ok[None], None, ()
            kept = {e: adv[e].detach().cpu() for e in keep_eps} if s == 0 else {}
            local[s * 10 ** 9 + k] = (robust, broken, attacks, kept)
            done += 1
            if progress is not None:
                progress(ProgressEvent(name or attack.name, done, total))
    merged = gather_by_key(local, dist)
    robust_rows, broken_rows, kept_rows = [], [], []
    attacks: tuple[str, ...] = ()
    for s in range(len(seeds)):
        parts = [v for key, v in merged.items() if key // 10 ** 9 == s]
        robust_rows.append(np.concatenate([p[0] for p in parts], axis=1))
        if ensemble:
            broken_rows.append(np.concatenate([p[1] for p in parts], axis=1))
            attacks = max((p[2] for p in parts), key=len)
        if s == 0:
            kept_rows = [p[3] for p in parts]
    adversarial = {e: torch.cat([p[e] for p in kept_rows]) for e in keep_eps}
    return AttackOutcome(name or attack.name, eps, np.stack(robust_rows), [int(s) for s in seeds],
                         np.stack(broken_rows) if ensemble else None, attacks, dict(meta or {}), adversarial)
