"""N-way K-shot Q-query episodes drawn with a private, seeded generator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from core.errors import ConfigError

__all__ = ["Episode", "EpisodicSampler"]


@dataclass(frozen=True)
class Episode:
    """Indices into a dataset for one episode.

    ``support`` (way*shot,) and ``query`` (way*query,) are dataset row indices
    ordered class by class; ``support_labels`` / ``query_labels`` are the
    episode-local labels 0..way-1; ``classes`` (way,) the dataset classes.
    """

    support: torch.Tensor
    query: torch.Tensor
    support_labels: torch.Tensor
    query_labels: torch.Tensor
    classes: torch.Tensor


class EpisodicSampler:
    """Draws episodes from ``labels``; iterate it or call :meth:`sample`.

    Args:
        labels: (N,) class index of every item.
        way, shot, query: classes per episode, support and query items per class.
        episodes: how many episodes one iteration yields.
        seed: seed of the sampler's own ``numpy.random.Generator``.
        groups: optional N patient ids; kept so callers can check which
            patients an episode touched (:meth:`groups_of`).

    Raises:
        ConfigError: if fewer than ``way`` classes have ``shot + query`` items.
    """

    def __init__(self, labels: Sequence[int] | torch.Tensor, way: int, shot: int, query: int,
                 episodes: int = 100, seed: int = 0, groups: Sequence[str] | None = None) -> None:
        if way < 2 or shot < 1 or query < 1 or episodes < 1:
            raise ConfigError("episodes need way >= 2, shot >= 1, query >= 1 and at least one episode")
        labels = np.asarray(torch.as_tensor(labels).cpu().numpy(), dtype=np.int64)
        if groups is not None and len(groups) != len(labels):
            raise ConfigError("one patient id per item is required")
        self.way, self.shot, self.query, self.episodes = way, shot, query, episodes
        self.groups = list(groups) if groups is not None else None
        self._rng = np.random.default_rng(seed)
        self._by_class = {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}
        need = shot + query
        usable = sorted(c for c, rows in self._by_class.items() if len(rows) >= need)
        if len(usable) < way:
            counts = ", ".join(f"class {c}: {len(r)}" for c, r in sorted(self._by_class.items()))
            raise ConfigError(f"{way}-way {shot}-shot {query}-query episodes need {way} classes with at least "
                              f"{need} images each; the data has {counts or 'no images'}")
        self.classes = np.array(usable, dtype=np.int64)

    def sample(self) -> Episode:
        chosen = np.sort(self._rng.choice(self.classes, size=self.way, replace=False))
        support, query = [], []
        for c in chosen:
            rows = self._rng.choice(self._by_class[int(c)], size=self.shot + self.query, replace=False)
            support.append(rows[: self.shot])
            query.append(rows[self.shot:])
        local = np.arange(self.way)
        return Episode(
            support=torch.from_numpy(np.concatenate(support)),
            query=torch.from_numpy(np.concatenate(query)),
            support_labels=torch.from_numpy(np.repeat(local, self.shot)),
            query_labels=torch.from_numpy(np.repeat(local, self.query)),
            classes=torch.from_numpy(chosen),
        )

    def __iter__(self) -> Iterator[Episode]:
        for _ in range(self.episodes):
            yield self.sample()

    def __len__(self) -> int:
        return self.episodes

    def groups_of(self, episode: Episode) -> set[str]:
        """Patient ids used by ``episode`` (needs ``groups``)."""
        if self.groups is None:
            raise ConfigError("this sampler was built without patient ids")
        rows = torch.cat([episode.support, episode.query]).tolist()
        return {self.groups[i] for i in rows}
