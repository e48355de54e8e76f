"""Few-shot data sources: synthetic phantoms (NOT clinical data), BraTS, VinDr-CXR, the annotation store."""

from core.fewshot.datasets.phantom_brain import BRAIN_CLASSES, brain_phantom
from core.fewshot.datasets.phantom_cxr import CXR_CLASSES, cxr_phantom

__all__ = ["BRAIN_CLASSES", "brain_phantom", "CXR_CLASSES", "cxr_phantom"]
