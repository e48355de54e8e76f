"""One Attack-lab update for two few-shot models on a 128x128 3-channel image (goal: median < 300 ms, 1 thread).

An update is what the page recomputes when a slider moves, for each of two
models, through the page's own code path: the image and its ROI prepared for
the model and rotated together (``core.studio.lab_choices.model_input``, 30
degrees), PGD-10 (L-inf, eps 8/255, ROI mode "outside"), Grad-CAM of the
clean and of the attacked image (one batched call), and the CAM-ROI Dice and
pointing game of both maps (``AttackView.alignment``).  One extra row times
the lab's default attack, the worst-case ensemble, for reference.  The models are
few-shot prototypical networks as the registry serves them
(``PrototypeClassifier.export()``): ``conv4`` and ``equivariant`` at the
default width 64, and at widths 32 and 16 to show what the size costs.  There
is no peer for this pipeline, so the figure is absolute; medians of
interleaved repeats on one torch thread.  Both wall-clock and process CPU
time are recorded: on a shared machine the wall clock also counts time spent
waiting for a core, while with one thread the CPU time is what an idle
machine's wall clock would show.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

__all__ = ["main", "update"]


def _classifier(backbone: str, hidden: int, size: int, channels: int):
    from core.fewshot import ProtoNet, PrototypeClassifier, build_backbone

    torch.manual_seed(0)
    net = ProtoNet(build_backbone(backbone, channels, hidden, image_size=size), 64).train()
    with torch.no_grad():
        net(torch.rand(8, channels, size, size))
    support = torch.rand(6, channels, size, size, generator=torch.Generator().manual_seed(1))
    names = ["ring-enhancing", "homogeneous", "speckled"]
    return PrototypeClassifier.from_support(net.eval(), support, torch.tensor([0, 0, 1, 1, 2, 2]), names).export()


def _image(x: torch.Tensor, roi: torch.Tensor):
    from core.studio.image_sources import StudioImage

    pixels = x[0].permute(1, 2, 0).numpy() if x.shape[1] == 3 else x[0, 0].numpy()
    return StudioImage(pixels, "bench", roi=roi.numpy(), dataset="brain-phantom")


def _entry(model, channels: int, size: int):
    from pathlib import Path

    from core.studio.registry import ModelEntry

    return ModelEntry("bench", Path("bench.pt"), "protonet", {"in_channels": channels, "image_size": size},
                      kind="fewshot", class_names=list(model.class_names), dataset="brain-phantom")


def update(models, x: torch.Tensor, roi: torch.Tensor, attack: str = "pgd") -> dict[str, float]:
    """One page update: input + ROI transform, attack, two CAMs, alignment for every model; the Dice values."""
    from core.studio.attack_lab import analyse
    from core.studio.lab_choices import model_input

    image = _image(x, roi)
    out = {}
    for k, model in enumerate(models):
        xm, roi_m = model_input(image, _entry(model, x.shape[1], x.shape[-1]), rotation_deg=30.0)
        view = analyse(model, xm, attack=attack, eps=8 / 255, steps=10, roi=roi_m, roi_mode="outside",
                       class_names=model.class_names)
        out[f"dice{k}"] = view.alignment["attacked"]["dice"]
    return out


def main(quick: bool = False, threads: int = 1, size: int = 128, channels: int = 3) -> dict:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        repeats = 3 if quick else 15
        x = torch.rand(1, channels, size, size, generator=torch.Generator().manual_seed(2))
        yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
        roi = ((yy - size * 0.4) ** 2 + (xx - size * 0.6) ** 2) < (size * 0.15) ** 2
        pairs = {"conv4 + equivariant, width 64": [("conv4", 64), ("equivariant", 64)],
                 "conv4 + conv4, width 64": [("conv4", 64), ("conv4", 64)],
                 "conv4 + equivariant, width 32": [("conv4", 32), ("equivariant", 32)],
                 "conv4 + equivariant, width 16": [("conv4", 16), ("equivariant", 16)]}
        setups = {label: [_classifier(b, h, size, channels) for b, h in spec] for label, spec in pairs.items()}
        attacks = {label: "pgd" for label in setups}
        worst = "conv4 + equivariant, width 64, worst case"
        setups[worst], attacks[worst] = setups["conv4 + equivariant, width 64"], "autoattack"
        for label, models in setups.items():
            update(models, x, roi, attacks[label])  # warm-up: allocations, hooks
        wall: dict[str, list[float]] = {label: [] for label in setups}
        cpu: dict[str, list[float]] = {label: [] for label in setups}
        for _ in range(repeats):
            for label, models in setups.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                update(models, x, roi, attacks[label])
                wall[label].append(time.perf_counter() - start)
                cpu[label].append(time.process_time() - start_cpu)
        rows = [{"pair": label, "median_ms": 1e3 * statistics.median(wall[label]),
                 "min_ms": 1e3 * min(wall[label]), "cpu_median_ms": 1e3 * statistics.median(cpu[label]),
                 "repeats": repeats} for label in setups]
        for row in rows:
            print(f"{row['pair']:42s} wall median {row['median_ms']:7.1f} ms (min {row['min_ms']:.1f}), "
                  f"CPU median {row['cpu_median_ms']:7.1f} ms", flush=True)
        return {"goal_ms": 300, "size": size, "in_channels": channels, "threads": threads,
                "attack": "PGD-10 L-inf eps 8/255, ROI outside (last row: the fast worst-case ensemble)",
                "rows": rows}
    finally:
        torch.set_num_threads(previous)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    main(quick=args.quick, threads=args.threads)
