"""Worst-case ensemble speed: our ``standard`` AutoAttack vs torchattacks' ``AutoAttack``, interleaved in one run.

Same model (a small CNN trained here on 32×32 digits), same images, same ε and
the same budget: APGD-CE and APGD-T (9 targets) 100 steps, FAB-T (9 targets)
100 steps, Square 5000 queries, one restart each, every member on the images
still robust.  torchattacks' members default to 10 steps, so its AutoAttack is
given AutoAttack's own budget explicitly.  Prints the time ratio ours / theirs
(goal ≤ 0.5) next to both robust accuracies (ours must not be higher).
One torch thread for both sides.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

__all__ = ["main", "torchattacks_autoattack"]


def _trained_cnn(epochs: int):
    """The benchmark CNN of ``bench_attacks`` (1 channel) trained on the digits training split."""
    from benchmarks.bench_attacks import small_cnn
    from core.datasets import load_dataset

    torch.manual_seed(0)
    model = small_cnn(channels=1)
    data = load_dataset("digits", "train")
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(epochs):
        order = torch.randperm(len(data.labels), generator=torch.Generator().manual_seed(0))
        for start in range(0, len(order), 64):
            rows = order[start:start + 64]
            opt.zero_grad()
            F.cross_entropy(model(data.images[rows]), data.labels[rows]).backward()
            opt.step()
    return model.eval()


def torchattacks_autoattack(model, eps: float, steps: int = 100, queries: int = 5000):
    """torchattacks' standard ``AutoAttack`` (seed 0) with AutoAttack's own budget (its members default to 10 steps)."""
    import torchattacks

    aa = torchattacks.AutoAttack(model, norm="Linf", eps=eps, version="standard", n_classes=10, seed=0)
    for member in aa._autoattack.attacks:
        if hasattr(member, "steps"):
            member.steps = steps
        if hasattr(member, "n_queries"):
            member.n_queries = queries
    return aa


def main(quick: bool = False, threads: int = 1) -> dict:
    from core.attacks import AutoAttack
    from core.robustness import evaluation_subset

    torch.set_num_threads(threads)
    model = _trained_cnn(epochs=1 if quick else 3)
    images, labels = evaluation_subset("digits", n_images=24 if quick else 100)
    steps, queries = (10, 300) if quick else (100, 5000)
    repeats = 1 if quick else 2
    rows = []
    for eps in ((8 / 255,) if quick else (4 / 255, 8 / 255)):
        ours = AutoAttack(model, eps, version="standard", steps=steps if quick else None,
                          n_queries=queries if quick else None)
        theirs = torchattacks_autoattack(model, eps, steps, queries)
        t_ours = t_theirs = float("inf")
        # Interleaved, best of ``repeats``: load changes on the shared machine hit both alike.
        for _ in range(repeats):
            start = time.perf_counter()
            adv_ours = ours(images, labels, generator=torch.Generator().manual_seed(0))
            t_ours = min(t_ours, time.perf_counter() - start)
            start = time.perf_counter()
            adv_theirs = theirs(images, labels)
            t_theirs = min(t_theirs, time.perf_counter() - start)
        with torch.no_grad():
            acc_ours = float((model(adv_ours).argmax(1) == labels).float().mean())
            acc_theirs = float((model(adv_theirs).argmax(1) == labels).float().mean())
            clean = float((model(images).argmax(1) == labels).float().mean())
        rows.append({"eps": eps, "ours_s": t_ours, "torchattacks_s": t_theirs, "ratio": t_ours / t_theirs,
                     "clean_accuracy": clean, "ours_robust_accuracy": acc_ours,
                     "torchattacks_robust_accuracy": acc_theirs})
        print(f"AutoAttack standard ({steps} steps, {queries} queries), {len(labels)} digits, eps {eps * 255:.0f}/255, "
              f"{threads} thread(s): ours {t_ours:.1f}s vs torchattacks {t_theirs:.1f}s -> ratio "
              f"{t_ours / t_theirs:.2f} (goal <= 0.5); robust accuracy ours {100 * acc_ours:.1f}% vs "
              f"{100 * acc_theirs:.1f}% (clean {100 * clean:.1f}%)", flush=True)
    return {"images": len(labels), "steps": steps, "queries": queries, "torch_threads": threads, "runs": rows,
            "ratio": sum(r["ours_s"] for r in rows) / sum(r["torchattacks_s"] for r in rows)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    main(quick=args.quick, threads=args.threads)
