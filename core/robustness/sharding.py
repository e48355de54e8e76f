"""Evaluation split across ``torchrun`` ranks: whole batches per rank, results gathered in order.

A batch is the unit of work and of seeding (:func:`batch_generator`): rank
``r`` of ``W`` takes batches ``r, r + W, …``, and every batch draws its random
numbers from a generator seeded by ``(seed, batch index)`` alone.  The same
batch therefore gets the same images and the same noise whatever the number
of ranks, and the gathered result equals the single-process run.  Ranks talk
through ``torch.distributed`` (gloo on CPU, nccl on GPU), joined by
:func:`core.training.init_distributed`.
"""

from __future__ import annotations

from typing import Any, TypeVar

import torch

from core.training.distributed import DistContext

__all__ = ["batch_starts", "my_batches", "batch_generator", "gather_by_key", "SINGLE"]

T = TypeVar("T")

#: The context of an ordinary single-process run.
SINGLE = DistContext()


def batch_starts(n: int, batch_size: int) -> list[int]:
    """Start index of every batch of ``batch_size`` over ``n`` items."""
    return list(range(0, n, batch_size))


def my_batches(n: int, batch_size: int, dist: DistContext = SINGLE) -> list[tuple[int, slice]]:
    """``(batch index, slice)`` of the batches this rank evaluates (round robin over ranks)."""
    return [(k, slice(start, min(start + batch_size, n))) for k, start in enumerate(batch_starts(n, batch_size))
            if k % dist.world_size == dist.rank]


def batch_generator(seed: int, batch_index: int) -> torch.Generator:
    """The generator of batch ``batch_index`` for attack seed ``seed`` (independent of the rank count)."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(batch_index)) % (2 ** 63))


def gather_by_key(local: dict[int, T], dist: DistContext = SINGLE) -> dict[int, T]:
    """Every rank's ``{batch index: result}`` merged, sorted by key, on every rank (picklable results)."""
    if not dist.enabled:
        return dict(sorted(local.items()))
    import torch.distributed as tdist

    parts: list[Any] = [None] * dist.world_size
    tdist.all_gather_object(parts, local)
    merged: dict[int, T] = {}
    for part in parts:
        merged.update(part)
    return dict(sorted(merged.items()))
