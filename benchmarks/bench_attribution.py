"""Explainer cost on a conv4 prototypical network, and ours vs captum for IG and occlusion.

``python -m benchmarks.bench_attribution [--quick]`` explains a batch of 64
query images (64x64, conv4 width 32, embedding 64; quick: 16 images, 48x48,
width 8) against fixed prototypes with every explainer, at the settings of the
reproduction's explanation checks, and prints the CPU seconds of each (single
thread, best of k).  For Integrated Gradients and
occlusion it also times captum on the same model, batch, baseline and
settings, interleaved with ours, and prints ours / captum (lower is better)
and the largest difference of the maps.  captum cannot take a per-row
prototype target, so both explain the same fixed prototypes through a
``logits = -distance`` wrapper with class-index targets.
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.bench_explain import _time

__all__ = ["main"]


def main(quick: bool = False) -> dict:
    from captum.attr import IntegratedGradients as CaptumIG
    from captum.attr import Occlusion as CaptumOcclusion

    from core.explain import EXPLAINERS, build_explainer
    from core.fewshot import build_model, pairwise_distance
    from core.fewshot.explanation_checks import FULL_CHECKS as S

    torch.set_num_threads(1)
    torch.manual_seed(0)
    batch, side, hidden, embed = (16, 48, 8, 16) if quick else (64, 64, 32, 64)
    repeats = 1 if quick else 2
    # The settings of the reproduction's explanation checks.
    options = {"occlusion": {"patch": S.occlusion_patch, "stride": S.occlusion_stride},
               "integrated_gradients": {"steps": S.ig_steps}}
    model = build_model({"backbone": "conv4", "in_channels": 3, "hidden": hidden, "embed_dim": embed,
                         "metric": "squared_euclidean", "normalize": False}).eval()
    x = torch.rand(batch, 3, side, side)
    with torch.no_grad():
        protos = model(torch.rand(3, 3, side, side))
    labels = torch.arange(batch) % 3

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, t):
            return -pairwise_distance(self.net(t), protos, model.metric)

    wrapped = Logits().eval()
    theirs = {
        "occlusion": lambda: CaptumOcclusion(wrapped).attribute(
            x, sliding_window_shapes=(3, S.occlusion_patch, S.occlusion_patch),
            strides=(3, S.occlusion_stride, S.occlusion_stride), baselines=0.0, target=labels)[:, 0],
        "integrated_gradients": lambda: CaptumIG(wrapped).attribute(
            x, baselines=0.0, target=labels, n_steps=S.ig_steps, internal_batch_size=batch).sum(1),
    }
    result = {"batch": batch, "input": side, "model": f"conv4 width {hidden}, embedding {embed}", "threads": 1,
              "seconds": {}, "captum_seconds": {}, "ratio_vs_captum": {}, "max_abs_difference": {}}
    for name in EXPLAINERS:
        explainer = build_explainer(name, wrapped, **({"layer": "net.backbone.features.3.2"}
                                                      if name.startswith("gradcam") else options[name]))
        ours = lambda: explainer(x, labels).detach()  # noqa: E731
        ours()  # warm-up
        best, best_theirs = float("inf"), float("inf")
        for _ in range(repeats):
            best = min(best, _time(ours))
            if name in theirs:
                best_theirs = min(best_theirs, _time(theirs[name]))
        result["seconds"][name] = best
        line = f"{name:>22}: {best:7.2f} CPU s for {batch} images ({1e3 * best / batch:.1f} ms/image)"
        if name in theirs:
            diff = float((ours() - theirs[name]()).abs().max())
            result["captum_seconds"][name] = best_theirs
            result["ratio_vs_captum"][name] = best / best_theirs
            result["max_abs_difference"][name] = diff
            line += f"; captum {best_theirs:.2f} s -> ratio {best / best_theirs:.2f}; max |diff| {diff:.1e}"
        explainer.release()
        print(line, flush=True)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    main(quick=parser.parse_args().quick)
