"""How useful the model's proposals were: acceptance rate and proposal-vs-final Dice.

For every reader decision: *accepted* (kept as proposed), *edited* (accepted
with a mask of the reader's own) or *rejected*.  The *final* ROI is the ROI
the decision created, in its current version (later edits count); a final
ROI deleted since is an empty mask (Dice 0).  Rates carry Wilson 95%
intervals, mean Dice a normal 95% interval.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ProposalOutcome", "ProposalReport", "proposal_report"]


@dataclass(frozen=True)
class ProposalOutcome:
    """One decision: the proposal, who decided what, and Dice(proposal, final ROI) (None when rejected)."""

    proposal_id: int
    image_id: int
    model: str
    reader: str
    decision: str
    dice: float | None


@dataclass
class ProposalReport:
    """Totals and the same figures per model and per reader (``groups[("model", name)]`` etc.)."""

    outcomes: list[ProposalOutcome] = field(default_factory=list)
    groups: dict[tuple[str, str], dict] = field(default_factory=dict)

    @property
    def overall(self) -> dict:
        return _summary(self.outcomes)


def _summary(outcomes: list[ProposalOutcome]) -> dict:
    from core.fewshot.stats import mean_ci
    from core.training.metrics import wilson_interval

    n = len(outcomes)
    kept = sum(o.decision in ("accepted", "edited") for o in outcomes)
    unedited = sum(o.decision == "accepted" for o in outcomes)
    dice = [o.dice for o in outcomes if o.dice is not None]
    return {"decisions": n, "acceptance_rate": kept / n if n else float("nan"),
            "acceptance_ci95": wilson_interval(kept, n), "unedited_rate": unedited / n if n else float("nan"),
            "unedited_ci95": wilson_interval(unedited, n), "dice": mean_ci(dice),
            "counts": {d: sum(o.decision == d for o in outcomes) for d in ("accepted", "edited", "rejected")}}


def proposal_report(store, reader: str | None = None) -> ProposalReport:
    """Every decision on every proposal of ``store`` (only ``reader``'s, if given), summarised overall,
    per model and per reader.  A blinded study shows a reader only their own decisions."""
    from core.agreement import dice

    proposals = {p.id: p for p in store.list_proposals()}
    report = ProposalReport()
    for decision in store.proposal_decisions():
        if reader is not None and decision.reader != reader:
            continue
        proposal = proposals[decision.proposal_id]
        value = None
        if decision.decision != "rejected":
            final = np.zeros_like(proposal.mask)
            if decision.roi_id is not None:  # None: the ROI was purged since
                roi = store.get_roi(decision.roi_id)
                final = final if roi.deleted else roi.mask
            value = dice(proposal.mask, final)
        report.outcomes.append(ProposalOutcome(proposal.id, proposal.image_id, proposal.model, decision.reader,
                                               decision.decision, value))
    grouped: dict[tuple[str, str], list[ProposalOutcome]] = defaultdict(list)
    for o in report.outcomes:
        grouped[("model", o.model)].append(o)
        grouped[("reader", o.reader)].append(o)
    report.groups = {key: _summary(items) for key, items in sorted(grouped.items())}
    return report
