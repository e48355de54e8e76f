"""The Annotate page's model-proposal panel: ask the model for an ROI, see where it came from, decide.

Imported by ``pages/annotate.py`` (a helper module, not a page: its name starts with ``_``).
"""

from __future__ import annotations

from typing import Callable

import streamlit as st

from pages import _ui
from core.assist import proposal_report, propose_roi
from core.studio.reading import describe_proposal

__all__ = ["proposals_panel"]


def _decide(store, proposal_id: int, reader: str, accept: bool) -> None:
    try:
        decision = store.decide_proposal(proposal_id, reader, accept=accept)
    except Exception as exc:  # noqa: BLE001
        _ui.show_error(exc)
        return
    st.session_state["ann_prop_flash"] = (f"Proposal #{proposal_id} {decision.decision}"
                                          + (f": stored as your ROI {decision.roi_id}." if decision.roi_id else "."))
    st.rerun()


def _outcomes(store, only: str | None) -> None:
    report = proposal_report(store, reader=only)
    if only is not None:
        st.caption("Blinded study: your own decisions only.")
    if not report.outcomes:
        st.caption("No decision on a proposal yet.")
        return
    overall = report.overall
    low, high = overall["acceptance_ci95"]
    dice = overall["dice"]
    m1, m2, m3 = st.columns(3)
    m1.metric("Decisions", overall["decisions"], help=", ".join(f"{k} {v}" for k, v in overall["counts"].items()))
    m2.metric("Accepted", f"{overall['acceptance_rate']:.0%}", help=f"as proposed or edited; Wilson 95% CI "
                                                                       f"{low:.0%}–{high:.0%}")
    m3.metric("Dice proposal vs final ROI", "–" if not dice["n"] else f"{dice['mean']:.3f}",
              help=f"mean ± {dice['ci95']:.3f} (95% CI) over {dice['n']} accepted proposals; the final ROI is its "
                   "current version, deleted = 0")
    st.dataframe([{"by": kind, "name": name, "decisions": g["decisions"], "accepted": g["counts"]["accepted"],
                   "edited": g["counts"]["edited"], "rejected": g["counts"]["rejected"],
                   "acceptance rate": round(g["acceptance_rate"], 3),
                   "mean Dice": None if not g["dice"]["n"] else round(g["dice"]["mean"], 3)}
                  for (kind, name), g in report.groups.items()], hide_index=True, key="ann_prop_report")


def proposals_panel(store, view, profile, assistant, reading_id: Callable[[], int], plane_text: str) -> None:
    """Propose an ROI on the reading plane with ``assistant`` (if any), and list ``view.pending`` with
    their provenance and Accept / Reject buttons; then how the proposals fared (in a blinded study, for
    a reader: their own decisions only)."""
    reader = None if profile is None else profile.name
    if assistant is None and not view.pending:
        return
    st.subheader("Model proposals")
    if assistant is not None:
        c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
        threshold = c1.slider("Grad-CAM threshold", 0.05, 0.95, 0.5, 0.05, key="ann_prop_threshold",
                              help="the proposal is the largest region where the normalised Grad-CAM reaches this")
        sigma = c2.slider("Outline smoothing σ (px)", 0.0, 5.0, 1.5, 0.5, key="ann_prop_sigma")
        if c3.button("Propose ROI", key="ann_propose", icon=":material/auto_awesome:",
                     help=f"ask {assistant.name} for an ROI{plane_text}"):
            try:
                proposal = propose_roi(store, reading_id(), assistant, threshold=threshold, smooth_sigma=sigma)
            except Exception as exc:  # noqa: BLE001
                _ui.show_error(exc)
            else:
                st.session_state["ann_prop_flash"] = (
                    f"The model's Grad-CAM has no region at threshold {threshold:g}; try a lower one."
                    if proposal is None else f"Proposal #{proposal.id} ({proposal.label}, {proposal.area} px) is in "
                                             "the viewer, dashed: select it and press A (or edit it), then Save.")
                st.rerun()
    if "ann_prop_flash" in st.session_state:
        st.info(st.session_state.pop("ann_prop_flash"), icon=":material/auto_awesome:")
    for rec, p in view.pending:
        with st.container(border=True):
            where = "" if rec.slice_index is None else f" · {rec.axis or 'frame'} {rec.slice_index}"
            st.markdown(f"**Proposal #{p.id}** · label **{p.label}**{where} · from {describe_proposal(p)}")
            b1, b2, _ = st.columns([1, 1, 4])
            if b1.button("Accept", key=f"ann_accept_{p.id}", disabled=reader is None,
                         help="store it as your ROI, as proposed (to change it first, edit it in the viewer and Save)"):
                _decide(store, p.id, reader, True)
            if b2.button("Reject", key=f"ann_reject_{p.id}", disabled=reader is None):
                _decide(store, p.id, reader, False)
    with st.expander("How useful the proposals were"):
        blinded = store.blinded_image_ids() != set()
        if blinded and reader is None:
            st.caption("Blinded study: choose your reader profile to see your decisions.")
        else:
            _outcomes(store, reader if blinded and not profile.is_adjudicator else None)
