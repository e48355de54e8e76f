"""Inference and training-step cost of the symmetry-aware models vs plain CNN twins.

For each architecture (tiny preset) and input shape (1x32x32 digits-size,
3x32x32 CIFAR-size) this measures, in one run on this machine:

- ``infer_vs_twin``: eval-mode time per batch of 128 of the *exported* model
  divided by that of its plain twin.  The twin is an ordinary CNN with the
  SAME channel counts and conv shapes: ``equivariant`` -> ``baseline`` with
  widths = the R2Conv channel counts (fields x N); ``cascaded`` -> ``baseline``
  with the stage's two fields x N convs in front of the trunk; ``parallel_*`` ->
  the same model with each equivariant branch replaced by a plain ConvBlock of
  the same output channels (the scale branch by a k x k conv to C x S
  channels followed by the same max over S).  ``baseline`` is its own twin.
- ``export_speedup``: un-exported eval time / exported eval time.
- ``train_vs_twin``: one Adam training step (batch 32) of the trainable model
  divided by the twin's.

The same twin idea is applied to the few-shot embedding networks
(``core.fewshot.SymmetryBackbone``) at 128x128 with 3 channels
(``fewshot_rows``): each exported ProtoNet over a symmetry backbone against a
ProtoNet over the features of its classifier's plain twin, batch 8 (as many
pixels as the classifiers' batch of 128 at 32x32).

Timings are interleaved (model, twin, model, twin, ...) and the median is
kept, so load from other processes affects both sides alike.  One intra-op
thread by default (``threads``): on the shared 2-core machine, two OpenMP
threads per process spin-wait against other jobs and make timings swing by
several x; one thread gives stable ratios.
"""

from __future__ import annotations

import argparse
import json
import copy
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from core.models import ARCHITECTURES, ConvBlock, FieldMaxPool, ModelConfig, build_model

__all__ = ["main", "plain_twin"]


def _config(arch: str, channels: int) -> ModelConfig:
    return ModelConfig(arch=arch, in_channels=channels, mean=(0.5,) * channels, std=(0.5,) * channels)


def plain_twin(model: nn.Module) -> nn.Module:
    """An ordinary CNN with the same channel counts and conv shapes as ``model`` (see module docstring)."""
    cfg = model.config
    n = cfg.rotation_order
    if cfg.arch == "equivariant":
        widths = tuple(cfg.rotation_fields(w) * n for w in cfg.widths)
        return build_model(cfg.replace(arch="baseline", widths=widths))
    if cfg.arch == "cascaded":
        f = cfg.rotation_fields(cfg.widths[0]) * n
        pools = tuple(sorted({0} & set(cfg.pool_after) | {p + 1 for p in cfg.pool_after if p >= 1}))
        return build_model(cfg.replace(arch="baseline", widths=(f, f, *cfg.widths[1:]), pool_after=pools))
    twin = copy.deepcopy(model)
    if cfg.arch.startswith("parallel"):
        branches = twin.features.stem.branches
        if "rotation" in branches:
            branches["rotation"] = ConvBlock(cfg.in_channels, cfg.rotation_fields(cfg.widths[0]) * n)
        if "scale" in branches:
            w, s, k = cfg.widths[0], cfg.n_scales, cfg.scale_kernel
            branches["scale"] = nn.Sequential(nn.Conv2d(cfg.in_channels, w * s, k, padding=k // 2, bias=False),
                                              nn.BatchNorm2d(w * s), nn.ReLU(inplace=True), FieldMaxPool(s))
    return twin


def _warm(model: nn.Module, x: torch.Tensor) -> nn.Module:
    model.train()
    with torch.no_grad():
        model(x[:16])
    return model.eval()


def _time_interleaved(fns: list, repeats: int) -> list[float]:
    samples: list[list[float]] = [[] for _ in fns]
    for fn in fns:
        fn()  # warm-up (allocations, e2cnn filter caches)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            samples[i].append(time.perf_counter() - start)
    return [statistics.median(s) for s in samples]


def _infer(model: nn.Module, x: torch.Tensor):
    def run():
        with torch.no_grad():
            model(x)
    return run


def _train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run():
        model.train()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return run


def fewshot_rows(repeats: int, size: int = 128, channels: int = 3, batch: int = 8) -> list[dict]:
    """Exported few-shot embedding (ProtoNet) inference vs a plain twin with the same channel counts."""
    from core.fewshot import SYMMETRY_BACKBONES, ProtoNet, SymmetryBackbone
    from core.fewshot.symmetry_backbones import backbone_model_config

    x = torch.rand(batch, channels, size, size)
    rows = []
    for name in SYMMETRY_BACKBONES:
        classifier = build_model(backbone_model_config(name, channels, 64, size))
        net = ProtoNet(SymmetryBackbone.from_classifier(classifier), 64)
        twin = ProtoNet(SymmetryBackbone.from_classifier(plain_twin(classifier)), 64)
        exported, twin_exported = _warm(net, x).export(), _warm(twin, x).export()
        t_exp, t_twin = _time_interleaved([_infer(exported, x), _infer(twin_exported, x)], repeats)
        row = {"backbone": name, "in_channels": channels, "size": size, "batch": batch,
               "params": sum(p.numel() for p in net.backbone.parameters()),
               "twin_params": sum(p.numel() for p in twin.backbone.parameters()),
               "infer_ms": 1e3 * t_exp, "twin_infer_ms": 1e3 * t_twin, "infer_vs_twin": t_exp / t_twin}
        rows.append(row)
        print(f"fewshot {name:20s} {channels:2d} {row['infer_ms']:9.2f} {row['twin_infer_ms']:8.2f} "
              f"{row['infer_vs_twin']:6.2f}", flush=True)
    return rows


def main(quick: bool = False, threads: int = 1) -> dict:
    torch.manual_seed(0)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _run(quick)
    finally:
        torch.set_num_threads(previous_threads)


def _run(quick: bool) -> dict:
    repeats = 3 if quick else 21
    shapes = [1] if quick else [1, 3]
    results: dict = {"reference": "plain twin with the same channel counts (see module docstring)",
                     "batch_infer": 128, "batch_train": 32, "threads": torch.get_num_threads(), "rows": []}
    print(f"{'arch':20s} {'C':>2s} {'infer ms':>9s} {'twin ms':>8s} {'ratio':>6s} "
          f"{'export x':>8s} {'train ratio':>11s}")
    for channels in shapes:
        x = torch.rand(128, channels, 32, 32)
        xt, yt = x[:32], torch.randint(0, 10, (32,))
        for arch in ARCHITECTURES:
            model = _warm(build_model(_config(arch, channels)), x)
            twin = _warm(plain_twin(model), x)
            exported, twin_exported = model.export(), twin.export()
            t_exp, t_twin, t_raw = _time_interleaved(
                [_infer(exported, x), _infer(twin_exported, x), _infer(model, x)], repeats)
            tr_model, tr_twin = _time_interleaved([_train_step(model, xt, yt), _train_step(twin, xt, yt)],
                                                  max(3, repeats // 2))
            row = {"arch": arch, "in_channels": channels, "infer_ms": 1e3 * t_exp, "twin_infer_ms": 1e3 * t_twin,
                   "infer_vs_twin": t_exp / t_twin, "export_speedup": t_raw / t_exp,
                   "train_vs_twin": tr_model / tr_twin}
            results["rows"].append(row)
            print(f"{arch:20s} {channels:2d} {row['infer_ms']:9.2f} {row['twin_infer_ms']:8.2f} "
                  f"{row['infer_vs_twin']:6.2f} {row['export_speedup']:8.2f} {row['train_vs_twin']:11.2f}",
                  flush=True)
    results["fewshot_rows"] = fewshot_rows(repeats, size=64 if quick else 128)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--fewshot-only", action="store_true", help="only the few-shot backbones at 128x128x3")
    args = parser.parse_args()
    if args.fewshot_only:
        torch.set_num_threads(args.threads)
        print(json.dumps(fewshot_rows(3 if args.quick else 21), indent=1))
    else:
        main(quick=args.quick, threads=args.threads)
