"""An AutoAttack-style ensemble (Croce & Hein, ICML 2020): the per-image worst case of diverse attacks.

The members run one after the other, each only on the samples every earlier
member failed to fool; an image counts as robust only if all of them fail.
The result records which member broke each image (``0`` = misclassified
without any attack).  Budgets (L∞; the L2 versions drop Square, which is L∞ only):

========  =============================================================  ==========================
version   members                                                        purpose
========  =============================================================  ==========================
standard  APGD-CE (100 steps) → APGD-T (100 steps, 9 targets) →          the headline figure
          FAB-T (100 steps, 9 targets) → Square (5000 queries)
fast      APGD-CE (50 steps) → APGD-T (50 steps, 3 targets) →            quick looks, tests
          Square (1000 queries)
========  =============================================================  ==========================

Models with fewer than 4 classes cannot use targeted DLR: with 3 classes
APGD-T is replaced by untargeted APGD-DLR, with 2 it is skipped; the result's
``skipped`` says so.  Each member gets its own child generator (see
:mod:`core.attacks.batch`), so the ensemble is seeded and a batched-ε call
equals the loop of single-ε calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import Tensor, nn

from core.attacks.apgd import APGD
from core.attacks.apgdt import APGDT
from core.attacks.base import Attack
from core.attacks.batch import FlatBatch, child_generators
from core.attacks.fab import FABT
from core.attacks.inputs import as_eps_tensor
from core.attacks.square import Square
from core.errors import ConfigError

__all__ = ["AutoAttack", "EnsembleResult", "VERSIONS", "CLEAN"]

#: ``broken_by`` code of an image the model misclassifies without any attack.
CLEAN = 0
#: Members and budgets of each version: (name, options).
VERSIONS: dict[str, tuple[tuple[str, dict], ...]] = {
    "standard": (("apgd-ce", {"steps": 100}), ("apgd-t", {"steps": 100, "n_targets": 9}),
                 ("fab-t", {"steps": 100, "n_targets": 9}), ("square", {"n_queries": 5000})),
    "fast": (("apgd-ce", {"steps": 50}), ("apgd-t", {"steps": 50, "n_targets": 3}), ("square", {"n_queries": 1000})),
}


@dataclass
class EnsembleResult:
    """Per-image outcome of the ensemble at each ε.

    Attributes:
        adversarial: ``(E, B, C, H, W)`` the breaking image (or the first member's
            strongest point for robust images); ``(B, C, H, W)`` for a single ε.
        broken_by: ``(E, B)`` long: ``-1`` robust, ``0`` misclassified when clean,
            ``i ≥ 1`` broken by ``attacks[i - 1]``.
        attacks: names of the members in the order they ran.
        eps: the E radii.
        skipped: members left out, with the reason.
    """

    adversarial: Tensor
    broken_by: Tensor
    attacks: tuple[str, ...]
    eps: list[float]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def robust(self) -> Tensor:
        """``(E, B)`` bool: no member fooled the (correctly classified) image."""
        return self.broken_by < 0

    def accuracy(self) -> Tensor:
        """``(E,)`` robust accuracy: the per-image worst case over all members."""
        return self.robust.float().mean(dim=1)

    def counts(self) -> list[dict[str, int]]:
        """Per ε: how many images were already wrong, broken by each member, and left robust."""
        names = ("clean", *self.attacks)
        return [{"clean_errors" if i == CLEAN else names[i]: int((row == i).sum()) for i in range(len(names))}
                | {"robust": int((row < 0).sum())} for row in self.broken_by]


class AutoAttack(Attack):
    """The ensemble; ``attack(x, y)`` gives the adversarial images, :meth:`evaluate` the full result.

    Args:
        model, eps, roi_mode, fuse_bn, max_batch: see :class:`~core.attacks.base.Attack`.
        version: ``"standard"`` or ``"fast"`` (see the module table).
        norm: ``"inf"`` or ``"2"``.
        steps, n_queries: override the version's gradient steps (APGD, APGD-T, FAB-T)
            and Square's query budget (smaller budgets for tests and previews).
    """

    name = "autoattack"

    def __init__(self, model: nn.Module, eps=8 / 255, *, version: str = "standard", norm: str = "inf",
                 steps: int | None = None, n_queries: int | None = None, roi_mode: str = "inside",
                 fuse_bn: bool = True, max_batch: int = 64) -> None:
        super().__init__(model, eps, roi_mode=roi_mode, fuse_bn=fuse_bn, max_batch=max_batch)
        if version not in VERSIONS:
            raise ConfigError(f"AutoAttack version must be one of {sorted(VERSIONS)}, got {version!r}")
        norm = str(norm).lower().removeprefix("l")
        if norm not in ("inf", "2"):
            raise ConfigError(f"AutoAttack norm must be 'inf' or '2', got {norm!r}")
        if (steps is not None and int(steps) < 1) or (n_queries is not None and int(n_queries) < 1):
            raise ConfigError(f"steps and n_queries must be >= 1, got {steps} and {n_queries}")
        self.version, self.norm = version, norm
        self._overrides = {"steps": steps, "n_queries": n_queries}

    def _plan(self) -> list[tuple[str, dict]]:
        return [(name, {k: (self._overrides.get(k) or v) for k, v in options.items()})
                for name, options in VERSIONS[self.version]]

    def budget(self) -> list[dict]:
        """The members and their options, as reports state them."""
        return [{"attack": name, **options} for name, options in self._plan()]

    def members_for(self, n_classes: int) -> tuple[list[Attack], dict[str, str]]:
        """The member attacks for a model with ``n_classes`` classes, and those skipped (with why)."""
        common = dict(roi_mode=self.roi_mode, fuse_bn=self.fuse_bn, max_batch=self.max_batch)
        members: list[Attack] = []
        skipped: dict[str, str] = {}
        for name, options in self._plan():
            if name == "apgd-ce":
                members.append(APGD(self.model, norm=self.norm, loss="ce", **options, **common))
            elif name == "apgd-t" and n_classes >= 4:
                members.append(APGDT(self.model, norm=self.norm, **options, **common))
            elif name == "apgd-t":
                reason = f"targeted DLR needs at least 4 classes; the model has {n_classes}"
                if n_classes == 3:
                    members.append(APGD(self.model, norm=self.norm, loss="dlr", steps=options["steps"], **common))
                    reason += ": ran untargeted apgd-dlr instead"
                skipped[name] = reason
            elif name == "fab-t":
                members.append(FABT(self.model, norm=self.norm, **options, **common))
            elif name == "square" and self.norm == "inf":
                members.append(Square(self.model, **options, **common))
            else:
                skipped[name] = f"{name} is implemented for L-inf only"
        return members, skipped

    def evaluate(self, images: Tensor, labels: Tensor, *, eps: float | Sequence[float] | None = None,
                 roi: Tensor | None = None, generator: torch.Generator | None = None) -> EnsembleResult:
        """Run the ensemble on ``images (B, C, H, W)`` with true ``labels (B,)``; see :class:`EnsembleResult`."""
        eps_values, batched = as_eps_tensor(self.eps if eps is None else eps)
        with self.session(images, labels, eps_values, roi=roi, generator=generator) as batch:
            adv, broken_by, names, skipped = self._run(batch)
        adv = self._project(adv, batch.x, batch.eps, batch.mask).reshape(-1, *images.shape)
        return EnsembleResult(adv if batched else adv[0], broken_by.view(-1, images.shape[0]), names,
                              [float(e) for e in eps_values], skipped)

    def _perturb(self, batch: FlatBatch) -> Tensor:
        return self._run(batch)[0]

    def _run(self, batch: FlatBatch) -> tuple[Tensor, Tensor, tuple[str, ...], dict[str, str]]:
        members, skipped = self.members_for(batch.n_classes)
        adv = batch.x.clone()
        filled = torch.zeros(len(batch), dtype=torch.bool, device=adv.device)
        broken_by = torch.full((len(batch),), -1, dtype=torch.long, device=adv.device)
        broken_by[~batch.clean_correct] = CLEAN
        for code, (member, generator) in enumerate(zip(members, child_generators(batch.generator, len(members))),
                                                   start=1):
            todo = ((broken_by < 0) & (batch.eps > 0)).nonzero().squeeze(1)
            if todo.numel() == 0:
                break
            sub = batch.subset(todo, generator)
            member._net = self._net
            try:
                out = member._project(member._perturb(sub), sub.x, sub.eps, sub.mask)
            finally:
                member._net = member.model
            hit = self._logits(out).argmax(dim=1) != sub.y
            broken_by[todo[hit]] = code
            keep = hit | ~filled[todo]
            adv[todo[keep]] = out[keep]
            filled[todo[keep]] = True
        return adv, broken_by, tuple(m.name for m in members), skipped
