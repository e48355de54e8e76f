"""Model assistance for readers: ROIs proposed from Grad-CAM, and which image to read next.

Public API::

    ProtoNetAssistant(checkpoint)      # few-shot prototypical network (core.fewshot checkpoint)
    ClassifierAssistant(checkpoint)    # symmetry classifier (core.training checkpoint)
    assistant.analyse([pixels (H, W)|(H, W, 3) in [0, 1]]) -> [Analysis(probabilities, predicted, margin, cam)]
    cam_to_mask(cam, threshold=0.5, smooth_sigma=1.5) -> (H, W) bool | None
    propose_roi(store, image_id, assistant, threshold=, smooth_sigma=) -> Proposal | None   # stored, with provenance
    store.decide_proposal(proposal_id, reader, accept=True|False, mask=None)            # (core.store)
    proposal_report(store) -> ProposalReport   # acceptance rate (Wilson CI), Dice(proposal, final ROI)
    annotate_next(store, assistant, by="entropy"|"margin"|"cam_spread", reader=None) -> [RankedImage]
    rank_planes(store, assistant, image_ids, by=...) -> [RankedImage]   # read or not; cacheable per model
"""

from core.assist.base import Analysis, Assistant, cam_spread, plane_pixels
from core.assist.classifier import ClassifierAssistant
from core.assist.fewshot import ProtoNetAssistant
from core.assist.propose import cam_to_mask, largest_component, propose_roi
from core.assist.rank import ORDERS, RankedImage, annotate_next, rank_images, rank_planes, unread_images
from core.assist.report import ProposalOutcome, ProposalReport, proposal_report

__all__ = [
    "Analysis", "Assistant", "cam_spread", "plane_pixels",
    "ProtoNetAssistant", "ClassifierAssistant",
    "cam_to_mask", "largest_component", "propose_roi",
    "ORDERS", "RankedImage", "rank_images", "rank_planes", "unread_images", "annotate_next",
    "ProposalOutcome", "ProposalReport", "proposal_report",
]
