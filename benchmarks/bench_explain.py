"""Grad-CAM speed: ours (batched, tensor-native) vs pytorch-grad-cam on the same model and batch.

``python -m benchmarks.bench_explain [--quick]`` prints ours / pytorch-grad-cam of the
best-of-k wall time for a batch of 64 (lower is better; goal <= 0.5).  Both
produce (B, H, W) maps of the same layer; the contenders are interleaved so
load on the shared machine hits both alike.  Single-threaded, CPU seconds of
this process (wall time on a shared machine mostly measures other jobs).
"""

from __future__ import annotations

import argparse
import time

import torch

__all__ = ["main"]


def _time(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main(quick: bool = False) -> dict:
    import torchvision
    from pytorch_grad_cam import GradCAM as TheirGradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from core.explain import GradCAM

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    layer = model.layer4[-1]
    batch, side = (16, 64) if quick else (64, 128)
    repeats = 2 if quick else 5
    x = torch.rand(batch, 3, side, side)
    classes = torch.randint(0, 10, (batch,))
    targets = [ClassifierOutputTarget(int(k)) for k in classes]

    ours = GradCAM(model, layer)
    theirs = TheirGradCAM(model=model, target_layers=[layer])
    run_ours = lambda: ours(x, classes).detach()  # noqa: E731
    run_theirs = lambda: theirs(input_tensor=x, targets=targets)  # noqa: E731
    run_ours(), run_theirs()  # warm-up
    t_ours, t_theirs = float("inf"), float("inf")
    for _ in range(repeats):
        t_ours = min(t_ours, _time(run_ours))
        t_theirs = min(t_theirs, _time(run_theirs))
    diff = float(abs(run_ours().numpy() - run_theirs()).max())
    ours.release()
    theirs.activations_and_grads.release()
    result = {"batch": batch, "input": side, "model": "resnet18 layer4[-1]",
              "ours_cpu_s": t_ours, "pytorch_grad_cam_cpu_s": t_theirs, "threads": 1, "ratio": t_ours / t_theirs,
              "max_abs_difference": diff, "goal": 0.5}
    print(f"Grad-CAM batch {batch} x {side}^2, resnet18: ours {t_ours * 1e3:.1f} CPU ms, pytorch-grad-cam "
          f"{t_theirs * 1e3:.1f} CPU ms -> ratio {result['ratio']:.2f} (goal <= 0.5); max |diff| {diff:.1e}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    main(quick=parser.parse_args().quick)
