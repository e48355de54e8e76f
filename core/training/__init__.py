"""Supervised training, evaluation and checkpoints (single process or DDP under torchrun)."""

from core.training.checkpoint import CHECKPOINT_FORMAT, Checkpoint, load_checkpoint, save_checkpoint, state_hash
from core.training.config import OPTIMIZERS, SCHEDULES, TrainConfig
from core.training.distributed import HASH_DIR_ENV, DistContext, init_distributed
from core.training.metrics import evaluate_accuracy, wilson_interval
from core.training.trainer import CHECKPOINT_NAME, METRICS_NAME, TrainResult, resolve_device, train

__all__ = [
    "TrainConfig", "OPTIMIZERS", "SCHEDULES", "train", "TrainResult", "resolve_device",
    "Checkpoint", "save_checkpoint", "load_checkpoint", "state_hash", "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME", "METRICS_NAME", "evaluate_accuracy", "wilson_interval",
    "DistContext", "init_distributed", "HASH_DIR_ENV",
]
