"""Supervised training of any ``core.models`` architecture, single process or DDP."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from core.datasets import ImageDataset, load_dataset
from core.errors import ConfigError, LoadError
from core.models import ModelConfig, SymmetryAwareCNN, build_model
from core.progress import ProgressCallback, ProgressEvent
from core.training.checkpoint import load_checkpoint, save_checkpoint, state_hash
from core.training.config import TrainConfig
from core.training.distributed import HASH_DIR_ENV, DistContext, broadcast_buffers, init_distributed
from core.training.metrics import evaluate_accuracy, wilson_interval

__all__ = ["TrainResult", "train", "resolve_device", "CHECKPOINT_NAME", "METRICS_NAME"]

CHECKPOINT_NAME = "model.pt"
METRICS_NAME = "metrics.json"


@dataclass
class TrainResult:
    """The trained model (eval mode, not DDP-wrapped), its metrics and where it was saved."""

    model: SymmetryAwareCNN
    metrics: dict[str, Any]
    checkpoint_path: Path | None = None
    history: list[dict[str, float]] = field(default_factory=list)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device cuda requested but no GPU is available; use --device cpu")
    return torch.device(name)


def _make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_epochs, gamma=cfg.gamma)
    return None


def _check_compatible(config: ModelConfig, data: ImageDataset) -> None:
    if config.in_channels != data.in_channels or config.num_classes != data.num_classes:
        raise ConfigError(f"model expects {config.in_channels} channels / {config.num_classes} classes but "
                          f"{data.name} has {data.in_channels} / {data.num_classes}")
    if config.image_size != data.image_size:
        raise ConfigError(f"model image_size {config.image_size} != {data.name} image size {data.image_size}")


def train(model_config: ModelConfig, train_config: TrainConfig, dataset: str = "digits",
          root: str | Path | None = None, *, split_seed: int = 0, out: str | Path | None = None,
          resume: str | Path | None = None, progress: ProgressCallback | None = None,
          datasets: tuple[Dataset, Dataset, Dataset] | None = None) -> TrainResult:
    """Train ``model_config`` on ``dataset`` and return the eval-mode model with its metrics.

    Validation accuracy is measured after every epoch, test accuracy (with a
    Wilson 95% interval) at the end.  With ``out``, ``model.pt`` (checkpoint,
    rewritten after every epoch so ``resume`` can continue) and
    ``metrics.json`` are written there -- by rank 0 only under torchrun.
    ``datasets`` (train, val, test) overrides loading by name (tests).
    Launched by torchrun with several processes, training runs as
    DistributedDataParallel with a DistributedSampler.
    """
    device = resolve_device(train_config.device)
    ctx = init_distributed(device)
    try:
        return _train(model_config, train_config, dataset, root, split_seed, out, resume, progress,
                      datasets, device, ctx)
    finally:
        ctx.close()


def _train(model_config, train_config, dataset, root, split_seed, out, resume, progress, datasets,
           device, ctx: DistContext) -> TrainResult:
    if ctx.enabled and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    if datasets is None:
        datasets = tuple(load_dataset(dataset, s, root=root, split_seed=split_seed) for s in ("train", "val", "test"))
    train_set, val_set, test_set = datasets
    if isinstance(train_set, ImageDataset):
        _check_compatible(model_config, train_set)

    torch.manual_seed(train_config.seed)
    model = build_model(model_config).to(device)
    optimizer = _make_optimizer(model, train_config)
    scheduler = _make_scheduler(optimizer, train_config)
    start_epoch, history = 0, []
    if resume is not None:
        ckpt = load_checkpoint(resume, device=device)
        if ckpt.config != model_config:
            raise LoadError(f"{Path(resume).name} holds a {ckpt.config.arch!r} model with a different config; "
                            f"resume with the same --model/--preset/dataset")
        model.load_state_dict(ckpt.model.state_dict(), strict=True)
        if ckpt.optimizer_state is not None:
            optimizer.load_state_dict(ckpt.optimizer_state)
        if scheduler is not None and ckpt.scheduler_state is not None:
            scheduler.load_state_dict(ckpt.scheduler_state)
        start_epoch = ckpt.epoch
        history = list(ckpt.metrics.get("history", []))
    model.train()

    net: nn.Module = model
    if ctx.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    sampler = (DistributedSampler(train_set, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True,
                                  seed=train_config.seed) if ctx.enabled else None)
    steps_per_epoch = -(-len(train_set) // (train_config.batch_size * ctx.world_size))
    total_steps = steps_per_epoch * train_config.epochs
    report_every = max(1, steps_per_epoch // 10)
    out_dir = Path(out) if out is not None else None
    split_info = _split_info(dataset, split_seed, datasets)
    started = time.perf_counter()
    step = start_epoch * steps_per_epoch

    for epoch in range(start_epoch, train_config.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
            loader = DataLoader(train_set, batch_size=train_config.batch_size, sampler=sampler)
        else:
            # Seeded per epoch so a resumed run sees the same batch order.
            generator = torch.Generator().manual_seed(train_config.seed * 100_003 + epoch)
            loader = DataLoader(train_set, batch_size=train_config.batch_size, shuffle=True, generator=generator)
        model.train()
        loss_sum = correct = seen = 0.0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum += loss.item() * y.numel()
            correct += float((logits.argmax(1) == y).sum())
            seen += y.numel()
            if progress is not None and ctx.is_main and (step % report_every == 0):
                progress(ProgressEvent("train", step, total_steps,
                                       {"epoch": epoch + 1, "loss": loss_sum / seen, "acc": correct / seen}))
        if scheduler is not None:
            scheduler.step()
        broadcast_buffers(model, ctx)
        val_acc = evaluate_accuracy(model, val_set, train_config.eval_batch_size, device)[0]
        history.append({"epoch": epoch + 1, "train_loss": loss_sum / max(seen, 1),
                        "train_acc": correct / max(seen, 1), "val_acc": val_acc})
        if progress is not None and ctx.is_main:
            progress(ProgressEvent("train", step, total_steps,
                                   {"epoch": epoch + 1, "loss": loss_sum / max(seen, 1), "val_acc": val_acc}))
        if out_dir is not None and ctx.is_main:
            save_checkpoint(out_dir / CHECKPOINT_NAME, model, {"history": history}, split_info, train_config,
                            epoch=epoch + 1, optimizer_state=optimizer.state_dict(),
                            scheduler_state=scheduler.state_dict() if scheduler is not None else None)

    test_acc, test_correct, test_total = evaluate_accuracy(model, test_set, train_config.eval_batch_size, device)
    lo, hi = wilson_interval(test_correct, test_total)
    metrics: dict[str, Any] = {
        "arch": model_config.arch, "preset": model_config.preset, "dataset": dataset,
        "epochs": train_config.epochs, "seed": train_config.seed, "world_size": ctx.world_size,
        "history": history, "val_acc": history[-1]["val_acc"] if history else None,
        "test_acc": test_acc, "test_acc_ci95": [lo, hi], "test_correct": test_correct, "test_total": test_total,
        "params": sum(p.numel() for p in model.parameters()),
        "train_seconds": time.perf_counter() - started,
    }
    path = None
    if out_dir is not None and ctx.is_main:
        path = save_checkpoint(out_dir / CHECKPOINT_NAME, model, metrics, split_info, train_config,
                               epoch=train_config.epochs, optimizer_state=optimizer.state_dict(),
                               scheduler_state=scheduler.state_dict() if scheduler is not None else None)
        _write_json(out_dir / METRICS_NAME, metrics)
    hash_dir = os.environ.get(HASH_DIR_ENV)
    if hash_dir:
        Path(hash_dir).mkdir(parents=True, exist_ok=True)
        (Path(hash_dir) / f"rank{ctx.rank}.sha256").write_text(state_hash(model))
    ctx.barrier()
    return TrainResult(model=model.eval(), metrics=metrics, checkpoint_path=path, history=history)


def _split_info(dataset: str, split_seed: int, datasets) -> dict[str, Any]:
    info: dict[str, Any] = {"dataset": dataset, "split_seed": split_seed}
    if isinstance(datasets[0], ImageDataset):
        info["classes"] = list(datasets[0].classes)  # so the registry can name the logits
    for name, data in zip(("train", "val", "test"), datasets):
        if isinstance(data, ImageDataset):
            info[name] = data.describe()
    return info


def _write_json(path: Path, data: dict[str, Any]) -> None:
    from core.atomic import write_json_atomic

    write_json_atomic(path, data)
