"""PGD and robustness-curve speed: ours vs torchattacks, measured in the same run.

``python -m benchmarks.bench_attacks [--quick]`` prints the ratio ours / torchattacks of the
best-of-k wall time (lower is better; goals: PGD-10 ≤ 0.9, 8-ε curve ≤ 0.7).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

__all__ = ["main", "small_cnn"]


def small_cnn(channels: int = 3, classes: int = 10) -> nn.Module:
    """A 32×32 CNN with BatchNorm (eval mode matters) and normalisation inside."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveMaxPool2d(1),
                nn.Flatten(), nn.Linear(64, classes))

        def forward(self, x):
            return self.body((x - 0.5) / 0.5)
    return Net()


def _best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(quick: bool = False) -> dict:
    import torchattacks

    from core.attacks import PGD

    torch.manual_seed(0)
    model = small_cnn().eval()
    batch = 16 if quick else 64
    x, y = torch.rand(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    repeats = 2 if quick else 5
    eps_list = [i / 255 for i in range(1, 9)]

    ours_pgd = PGD(model, 8 / 255, alpha=2 / 255, steps=10)
    theirs_pgd = torchattacks.PGD(model, eps=8 / 255, alpha=2 / 255, steps=10, random_start=True)
    # Interleave the contenders so load changes on the shared machine hit both alike.
    t_ours, t_theirs = float("inf"), float("inf")
    for _ in range(repeats):
        t_ours = min(t_ours, _best_of(lambda: ours_pgd(x, y), 1))
        t_theirs = min(t_theirs, _best_of(lambda: theirs_pgd(x, y), 1))

    curve_ours = PGD(model, eps_list, alpha=2 / 255, steps=10)

    def theirs_curve():
        for e in eps_list:
            torchattacks.PGD(model, eps=e, alpha=2 / 255, steps=10, random_start=True)(x, y)

    c_ours, c_theirs = float("inf"), float("inf")
    for _ in range(max(1, repeats // 2)):
        c_ours = min(c_ours, _best_of(lambda: curve_ours(x, y), 1))
        c_theirs = min(c_theirs, _best_of(theirs_curve, 1))

    result = {
        "pgd10_batch": batch, "pgd10_ours_s": t_ours, "pgd10_torchattacks_s": t_theirs,
        "pgd10_ratio": t_ours / t_theirs,
        "curve_eps": len(eps_list), "curve_ours_batched_s": c_ours, "curve_torchattacks_loop_s": c_theirs,
        "curve_ratio": c_ours / c_theirs,
    }
    print(f"PGD-10, batch {batch}, 32x32 CNN: ours {t_ours:.3f}s vs torchattacks {t_theirs:.3f}s "
          f"-> ratio {result['pgd10_ratio']:.2f} (goal <= 0.9)")
    print(f"8-eps PGD curve: ours batched {c_ours:.3f}s vs torchattacks loop {c_theirs:.3f}s "
          f"-> ratio {result['curve_ratio']:.2f} (goal <= 0.7)")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    main(quick=parser.parse_args().quick)
