"""Cost of expert guidance per training episode: guided / unguided wall time.

``python -m benchmarks.bench_fewshot [--quick]`` trains the same conv4
prototypical network on 3-way 5-shot 5-query phantom episodes with
``--guidance none``, Dice guidance with second-order Grad-CAM, first-order
Grad-CAM (the paper's code and our default) and RRR, and prints each one's
best-of-k time per episode over the unguided one (goal for second order <= 2.5).
Runs single-threaded and times CPU seconds of this process, so the ratios hold
on a shared machine where wall time mostly measures other people's jobs.
"""

from __future__ import annotations

import argparse
import time

import torch

__all__ = ["main"]

MODES = {
    "none": {"guidance": "none"},
    "dice_second_order": {"guidance": "dice", "first_order": False},
    "dice_first_order": {"guidance": "dice", "first_order": True},
    "rrr": {"guidance": "rrr", "alpha": 10.0},
}


def main(quick: bool = False) -> dict:
    from core.fewshot import EpisodicSampler, TrainConfig, brain_phantom, build_model, episode_step

    torch.set_num_threads(1)
    data = brain_phantom(n_patients=12, images_per_patient=4, size=64, seed=0)
    hidden = 32 if quick else 64
    episodes = 3 if quick else 10
    repeats = 2 if quick else 3
    sampler = EpisodicSampler(data.labels, 3, 5, 5, seed=0)
    eps = [sampler.sample() for _ in range(episodes)]
    models, opts = {}, {}
    for name in MODES:
        torch.manual_seed(0)
        models[name] = build_model({"backbone": "conv4", "in_channels": 3, "hidden": hidden, "embed_dim": 64,
                                    "metric": "squared_euclidean", "normalize": False}).train()
        opts[name] = torch.optim.Adam(models[name].parameters(), lr=1e-3)

    def run(name):
        cfg = TrainConfig(**MODES[name])
        start = time.process_time()
        for ep in eps:
            opts[name].zero_grad()
            loss, _ = episode_step(models[name], data, ep, cfg)
            loss.backward()
            opts[name].step()
        return (time.process_time() - start) / len(eps)

    for name in MODES:
        run(name)  # warm-up
    best = {name: float("inf") for name in MODES}
    for _ in range(repeats):
        for name in MODES:  # interleaved: machine load hits every mode alike
            best[name] = min(best[name], run(name))
    result = {"hidden": hidden, "episode": "3-way 5-shot 5-query, 64x64x3",
              "cpu_seconds_per_episode": best, "threads": 1,
              "ratio_vs_unguided": {k: v / best["none"] for k, v in best.items()}, "goal_second_order": 2.5}
    for name, sec in best.items():
        print(f"{name:18s} {sec * 1e3:8.1f} CPU ms/episode   x{sec / best['none']:.2f} vs unguided")
    print(f"second-order / first-order: {best['dice_second_order'] / best['dice_first_order']:.2f}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    main(quick=parser.parse_args().quick)
