"""Few-shot data sources: synthetic phantoms (NOT clinical data), BraTS, VinDr-CXR, the annotation store."""

from core.fewshot.datasets._cues import CUE_KINDS, CUE_TIES
from core.fewshot.datasets.brats import BRATS_CLASSES, BRATS_MODALITIES, find_brats_cases, load_brats
from core.fewshot.datasets.phantom_brain import BRAIN_CLASSES, brain_phantom
from core.fewshot.datasets.phantom_cxr import CXR_CLASSES, cxr_phantom
from core.fewshot.datasets.store import store_dataset
from core.fewshot.datasets.vindr import (MERGE_MODES, VINDR_CLASSES, VINDR_COLUMNS, boxes_to_mask, load_vindr,
                                         read_vindr_csv)

__all__ = [
    "BRAIN_CLASSES", "brain_phantom", "CXR_CLASSES", "cxr_phantom", "CUE_KINDS", "CUE_TIES",
    "BRATS_CLASSES", "BRATS_MODALITIES", "find_brats_cases", "load_brats",
    "VINDR_CLASSES", "VINDR_COLUMNS", "MERGE_MODES", "boxes_to_mask", "load_vindr", "read_vindr_csv",
    "store_dataset",
]
