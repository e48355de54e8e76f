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
        groups: optional N patient ids; needed for ``patient_disjoint`` and
            :meth:`groups_of`.
        patient_disjoint: draw the support and the query of every episode from
            different patients: no patient has an image on both sides (the
            query is a new patient, as in the clinic).  Per class, patients
            are taken in random order for the support until it can hold
            ``shot`` images; the remaining patients supply the queries.
        class_names: names used in error messages (default ``class <index>``).

    Raises:
        ConfigError: if fewer than ``way`` classes can fill an episode: with
            ``patient_disjoint``, the message names the classes whose patients
            cannot supply ``shot`` support images and, from other patients,
            ``query`` query images.
    """

    #: Random restarts before a patient-disjoint episode is declared impossible
    #: (only patients holding images of several classes can make one fail).
    MAX_TRIES = 200

    def __init__(self, labels: Sequence[int] | torch.Tensor, way: int, shot: int, query: int,
                 episodes: int = 100, seed: int = 0, groups: Sequence[str] | None = None,
                 patient_disjoint: bool = False, class_names: Sequence[str] | None = None) -> None:
        if way < 2 or shot < 1 or query < 1 or episodes < 1:
            raise ConfigError("episodes need way >= 2, shot >= 1, query >= 1 and at least one episode")
        labels = np.asarray(torch.as_tensor(labels).cpu().numpy(), dtype=np.int64)
        if groups is not None and len(groups) != len(labels):
            raise ConfigError("one patient id per item is required")
        if patient_disjoint and groups is None:
            raise ConfigError("patient-disjoint episodes need the patient id of every image")
        self.way, self.shot, self.query, self.episodes = way, shot, query, episodes
        self.groups = list(groups) if groups is not None else None
        self.patient_disjoint = bool(patient_disjoint)
        self._names = list(class_names) if class_names is not None else None
        self._rng = np.random.default_rng(seed)
        self._by_class = {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}
        if self.patient_disjoint:
            self.classes = self._disjoint_classes()
            return
        need = shot + query
        usable = sorted(c for c, rows in self._by_class.items() if len(rows) >= need)
        if len(usable) < way:
            counts = ", ".join(f"{self._name(c)}: {len(r)}" for c, r in sorted(self._by_class.items()))
            raise ConfigError(f"{way}-way {shot}-shot {query}-query episodes need {way} classes with at least "
                              f"{need} images each; the data has {counts or 'no images'}")
        self.classes = np.array(usable, dtype=np.int64)

    def _name(self, c: int) -> str:
        if self._names is not None and 0 <= c < len(self._names):
            return f"class {self._names[c]!r}"
        return f"class {c}"

    def _disjoint_classes(self) -> np.ndarray:
        """Classes whose patients can be split into a support side and a query side."""
        codes = {g: i for i, g in enumerate(dict.fromkeys(self.groups))}
        group_ids = np.array([codes[g] for g in self.groups], dtype=np.int64)
        self._patient_codes = group_ids
        self._patient_rows: dict[int, list[np.ndarray]] = {}
        usable, short = [], []
        for c, rows in sorted(self._by_class.items()):
            by_patient = [rows[group_ids[rows] == p] for p in np.unique(group_ids[rows])]
            self._patient_rows[c] = by_patient
            if _can_split([len(r) for r in by_patient], self.shot, self.query):
                usable.append(c)
            else:
                short.append(f"{self._name(c)} has {len(by_patient)} patient{'s' if len(by_patient) != 1 else ''} "
                             f"with {len(rows)} image{'s' if len(rows) != 1 else ''}")
        if len(usable) < self.way:
            raise ConfigError(
                f"patient-disjoint {self.way}-way {self.shot}-shot {self.query}-query episodes need {self.way} "
                f"classes whose patients can give {self.shot} support images and, from other patients, "
                f"{self.query} query images; {'; '.join(short) or f'the data has {len(usable)} classes'}")
        return np.array(usable, dtype=np.int64)

    def sample(self) -> Episode:
        chosen = np.sort(self._rng.choice(self.classes, size=self.way, replace=False))
        if self.patient_disjoint:
            support, query = self._disjoint_rows(chosen)
        else:
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

    def _disjoint_rows(self, chosen: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Support and query rows per class, with every patient on one side only."""
        for _ in range(self.MAX_TRIES):
            side: dict[int, bool] = {}  # patient code -> on the support side
            support, query = [], []
            for c in chosen:
                pool_s, pool_q = [], []
                for k in self._rng.permutation(len(self._patient_rows[int(c)])):
                    rows = self._patient_rows[int(c)][k]
                    patient = int(self._patient_codes[rows[0]])
                    if patient not in side:
                        side[patient] = sum(map(len, pool_s)) < self.shot
                    (pool_s if side[patient] else pool_q).append(rows)
                pool_s = np.concatenate(pool_s) if pool_s else np.empty(0, np.int64)
                pool_q = np.concatenate(pool_q) if pool_q else np.empty(0, np.int64)
                if len(pool_s) < self.shot or len(pool_q) < self.query:
                    break
                support.append(self._rng.choice(pool_s, size=self.shot, replace=False))
                query.append(self._rng.choice(pool_q, size=self.query, replace=False))
            else:
                return support, query
        raise ConfigError(f"could not draw a patient-disjoint episode in {self.MAX_TRIES} tries: too many "
                          "patients hold images of several of the classes; lower shot/query or turn the "
                          "patient-disjoint rule off")

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


def _can_split(counts: list[int], shot: int, query: int) -> bool:
    """Whether some patients hold >= ``shot`` images and the others >= ``query`` (subset sums)."""
    total = sum(counts)
    reachable = 1  # bit s set: some subset of patients holds exactly s images
    for n in counts:
        reachable |= reachable << n
    return any(reachable >> s & 1 for s in range(shot, total - query + 1))
