"""Reader agreement and consensus: how far readers' ROIs and class labels agree, and what to train on.

Public API::

    dice(a, b), iou(a, b) -> float; hausdorff(a, b, spacing, percentile=95) -> float | None
    pair_metrics(a, b, spacing) -> PairMetrics(dice, iou, hd95_px, hd95_mm, area_a, area_b)
    reader_pairs({reader: (H, W) bool}, spacing) -> {(a, b): PairMetrics}
    cohen_kappa(a, b), fleiss_kappa(counts (N, K)); label_agreement([(image, reader, label)]) -> LabelAgreement
    union_mask(masks), majority_mask(masks) -> (H, W) bool; staple({reader: mask}) -> StapleResult
    RoiSource.parse("union"|"majority"|"staple"|"consensus"|"reader:NAME"); source_mask(masks, source, shape, roles)
    agreement_report(store, image_ids=None, label=None) -> AgreementReport   # the Agreement page
"""

from core.agreement.consensus import StapleResult, majority_mask, staple, union_mask
from core.agreement.kappa import LabelAgreement, cohen_kappa, fleiss_kappa, label_agreement
from core.agreement.metrics import (PairMetrics, dice, hausdorff, iou, pair_metrics, reader_pairs, surface,
                                    surface_distances)
from core.agreement.report import (AgreementReport, ImageAgreement, PairRow, ReaderAgreement, agreement_report,
                                   reader_masks)
from core.agreement.sources import ROI_SOURCES, RoiSource, source_mask

__all__ = [
    "PairMetrics", "dice", "iou", "surface", "surface_distances", "hausdorff", "pair_metrics", "reader_pairs",
    "LabelAgreement", "cohen_kappa", "fleiss_kappa", "label_agreement",
    "StapleResult", "union_mask", "majority_mask", "staple",
    "ROI_SOURCES", "RoiSource", "source_mask",
    "AgreementReport", "ImageAgreement", "PairRow", "ReaderAgreement", "agreement_report", "reader_masks",
]
