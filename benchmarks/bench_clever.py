"""CLEVER speed: ours vs ART's ``clever_u`` on the same model and images, same run.

Untargeted L2 CLEVER, 10 classes, 10 batches × 50 samples, on a 32×32 CNN.
Prints ART time / our time (higher is better; goal ≥ 10×) and both scores.
Measured with one torch thread (``--threads``) so both sides get the same CPU budget.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

__all__ = ["main"]


def main(quick: bool = False, threads: int = 1) -> dict:
    from art.estimators.classification import PyTorchClassifier
    from art.metrics import clever_u

    from benchmarks.bench_attacks import small_cnn
    from core.robustness import clever

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = small_cnn().eval()
    clf = PyTorchClassifier(model, loss=nn.CrossEntropyLoss(), input_shape=(3, 32, 32), nb_classes=10,
                            clip_values=(0.0, 1.0))
    images = torch.rand(1 if quick else 3, 3, 32, 32)
    nb_batch, batch_size, radius = 10, 50, 2.0
    ours_t, art_t, ours_s, art_s = [], [], [], []
    for i, x in enumerate(images):
        start = time.perf_counter()
        ours_s.append(clever(model, x, norm=2, nb_batch=nb_batch, batch_size=batch_size, radius=radius,
                             seed=i).score)
        ours_t.append(time.perf_counter() - start)
        np.random.seed(i)
        start = time.perf_counter()
        art_s.append(float(clever_u(clf, x.numpy(), nb_batches=nb_batch, batch_size=batch_size, radius=radius,
                                    norm=2, verbose=False)))
        art_t.append(time.perf_counter() - start)
    result = {
        "images": len(images), "torch_threads": threads, "nb_batch": nb_batch, "batch_size": batch_size,
        "ours_s_per_image": float(np.mean(ours_t)), "art_s_per_image": float(np.mean(art_t)),
        "speedup": float(np.sum(art_t) / np.sum(ours_t)),
        "ours_scores": ours_s, "art_scores": art_s,
    }
    print(f"CLEVER-u L2, 10 classes, {nb_batch}x{batch_size} samples, 32x32 CNN, {threads} torch thread(s): ours "
          f"{result['ours_s_per_image']:.2f}s/image vs ART {result['art_s_per_image']:.2f}s/image "
          f"-> ART/ours {result['speedup']:.1f}x (goal >= 10x)")
    print("scores ours vs ART: " + ", ".join(f"{a:.4f}/{b:.4f}" for a, b in zip(ours_s, art_s)))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads for the measurement")
    args = parser.parse_args()
    main(quick=args.quick, threads=args.threads)
