"""Expert-guided explainable few-shot learning (prototypical networks + Grad-CAM guidance)."""

from core.fewshot.distances import DISTANCES, pairwise_distance

__all__ = ["DISTANCES", "pairwise_distance"]
