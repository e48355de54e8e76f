"""Accuracy with a Wilson 95% interval, and model evaluation on a dataset."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

__all__ = ["wilson_interval", "evaluate_accuracy"]


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% for z = 1.96)."""
    if total <= 0:
        return (0.0, 1.0)
    p = correct / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, dataset: Dataset, batch_size: int = 256,
                      device: torch.device | str = "cpu") -> tuple[float, int, int]:
    """(accuracy, correct, total) of ``model`` in eval mode; the previous mode is restored."""
    was_training = model.training
    model.eval()
    correct = total = 0
    try:
        for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            pred = model(x.to(device)).argmax(dim=1).cpu()
            correct += int((pred == y).sum())
            total += int(y.numel())
    finally:
        model.train(was_training)
    return (correct / total if total else 0.0), correct, total
