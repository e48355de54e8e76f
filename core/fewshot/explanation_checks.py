"""Explanations of a prototypical network checked by explainers its training loss never saw.

Guided training pulls the Grad-CAM of the log-probability target towards the
expert ROI and is then judged by that same Grad-CAM, which is circular (Heo et
al., NeurIPS 2019).  :func:`explanation_checks` explains the queries of
held-out test episodes, each against its own episode's prototypes, with every
explainer in :data:`core.explain.EXPLAINERS` (Grad-CAM, Grad-CAM++ and the
independent occlusion and Integrated Gradients), and reports for each:

* **alignment** with the expert ROI (soft Dice, IoU, pointing game, energy
  inside the ROI), mean +- 95% CI over episodes, of [0, 1] maps: signed maps
  (occlusion, IG) through :func:`core.explain.unit_maps` (positive part divided
  by the maximum), CAMs as the CAM normalises them;
* the **cascading randomisation check** (Spearman / SSIM per randomised layer;
  every randomised copy re-forms its prototypes from the support set);
* **deletion / insertion AUC** of the episode probability of the true class,
  with a random pixel order as reference (baseline value 0).

The score explained is the episode log-probability of the true class (the
reproduction's Grad-CAM target), for every explainer.  Episodes are the first
``sizes.episodes`` of the evaluation stream seeded by ``seed``, the same ones
:func:`core.fewshot.evaluate_episodic` uses for its Grad-CAM alignment.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch

from core.errors import ConfigError
from core.explain import (ALIGNMENT_METRICS, EXPLAINERS, cam_alignment, deletion_insertion, explainer_factory,
                          randomisation_check, unit_maps)
from core.fewshot.data import FewShotData
from core.fewshot.evaluate import PrototypeScoreTarget, embed
from core.fewshot.protonet import ProtoNet, class_prototypes
from core.fewshot.sampler import EpisodicSampler
from core.fewshot.stats import mean_ci
from core.progress import ProgressCallback, ProgressEvent
from core.fewshot_defaults import DEFAULTS as D

__all__ = ["CheckSizes", "QUICK_CHECKS", "FULL_CHECKS", "EpisodeQueries", "episode_queries",
           "explanation_checks", "check_run", "MAP_SIGN", "BASELINE"]

#: How signed maps become [0, 1] maps for alignment, and the occlusion / IG / deletion baseline value.
MAP_SIGN, BASELINE = "positive", 0.0


@dataclass(frozen=True)
class CheckSizes:
    """How much to explain: episodes for alignment, queries for the randomisation and deletion checks."""

    episodes: int = 12
    randomisation_images: int = 12
    faithfulness_images: int = 36
    ig_steps: int = 16
    occlusion_patch: int = 8
    occlusion_stride: int = 8
    deletion_steps: int = 16
    batch: int = 60

    def validate(self) -> None:
        if min(self.episodes, self.ig_steps, self.occlusion_patch, self.occlusion_stride,
               self.deletion_steps, self.batch) < 1 or min(self.randomisation_images, self.faithfulness_images) < 0:
            raise ConfigError("explanation-check sizes must be positive (image counts may be 0)")


FULL_CHECKS = CheckSizes()
QUICK_CHECKS = CheckSizes(episodes=2, randomisation_images=3, faithfulness_images=4, ig_steps=4,
                          occlusion_patch=16, occlusion_stride=16, deletion_steps=4, batch=30)


@dataclass
class EpisodeQueries:
    """The queries of some test episodes, flattened: row r is image ``rows[r]`` of episode ``owners[r]``.

    ``labels`` (R,) are episode-local, ``protos`` (R, way, D) the episode's
    prototypes (eval-mode embeddings); ``supports`` keeps each episode's support
    rows and labels so a randomised copy can re-form its own prototypes.
    """

    rows: torch.Tensor
    owners: torch.Tensor
    labels: torch.Tensor
    protos: torch.Tensor
    supports: list[tuple[torch.Tensor, torch.Tensor]]
    way: int

    def targets(self, sl: slice, metric: str, score: str = "log_prob",
                protos: torch.Tensor | None = None) -> PrototypeScoreTarget:
        """Target of rows ``sl`` against their stored prototypes, or against ``protos`` given for those rows."""
        p = self.protos[sl] if protos is None else protos
        return PrototypeScoreTarget(p, self.labels[sl].to(p.device), metric, score)

    def reformed_protos(self, model: ProtoNet, data: FewShotData, sl: slice = slice(None)) -> torch.Tensor:
        """Prototypes of rows ``sl`` (n, way, D) re-formed by ``model`` (e.g. a randomised copy) from the
        support sets of their episodes."""
        device = next(model.parameters()).device
        owners = self.owners[sl].tolist()
        protos = {i: class_prototypes(embed(model, data.images[self.supports[i][0]]),
                                      self.supports[i][1].to(device), self.way) for i in sorted(set(owners))}
        return torch.stack([protos[i] for i in owners])


def episode_queries(model: ProtoNet, data: FewShotData, way: int, shot: int, query: int, episodes: int,
                    seed: int, patient_disjoint: bool = D.eval_disjoint) -> EpisodeQueries:
    """The first ``episodes`` episodes of the stream seeded by ``seed`` (model in its current mode).

    Drawn exactly as :func:`core.fewshot.evaluate_episodic` draws them (same
    seed and ``patient_disjoint`` -> same episodes)."""
    sampler = EpisodicSampler(data.labels, way, shot, query, episodes=episodes, seed=seed, groups=data.groups,
                              patient_disjoint=patient_disjoint, class_names=data.class_names)
    emb = embed(model, data.images)
    parts = []
    for i, ep in enumerate(sampler):
        protos = class_prototypes(emb[ep.support], ep.support_labels.to(emb.device), way)
        parts.append((i, ep, protos))
    return EpisodeQueries(
        rows=torch.cat([ep.query for _, ep, _ in parts]),
        owners=torch.cat([torch.full((len(ep.query),), i) for i, ep, _ in parts]),
        labels=torch.cat([ep.query_labels for _, ep, _ in parts]),
        protos=torch.cat([p.unsqueeze(0).expand(len(ep.query), -1, -1) for _, ep, p in parts]),
        supports=[(ep.support, ep.support_labels) for _, ep, _ in parts], way=way)


def _factories(sizes: CheckSizes, names: Sequence[str]) -> dict:
    options = {"occlusion": {"patch": sizes.occlusion_patch, "stride": sizes.occlusion_stride, "baseline": BASELINE},
               "integrated_gradients": {"steps": sizes.ig_steps, "baseline": BASELINE}}
    return {n: explainer_factory(n, **options.get(n, {})) for n in names}


def _explain_all(factory, model: ProtoNet, data: FewShotData, q: EpisodeQueries, n: int,
                 batch: int) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Raw and [0, 1] maps (n, H, W) of the first n rows, and IG's completeness gaps |delta| (empty otherwise).

    For the [0, 1] maps, signed maps become their positive part divided by the maximum (:func:`core.explain.unit_maps`); CAMs are
    kept as the CAM itself normalises them, so the Grad-CAM row matches the evaluation's Grad-CAM alignment.
    """
    device = next(model.parameters()).device
    maps, gaps = [], []
    with factory(model) as explain:
        for s in range(0, n, batch):
            sl = slice(s, min(s + batch, n))
            maps.append(explain(data.images[q.rows[sl]].to(device), q.targets(sl, model.metric)).detach().cpu())
            if getattr(explain, "delta", None) is not None:
                gaps += explain.delta.abs().tolist()
    raw = torch.cat(maps)
    return raw, (unit_maps(raw, MAP_SIGN) if explain.signed else raw), gaps


def _alignment(maps: torch.Tensor, data: FewShotData, q: EpisodeQueries) -> dict:
    masks = data.masks[q.rows]
    aligned = cam_alignment(maps, masks)
    has_roi = masks.flatten(1).any(1)
    per_episode = {m: [] for m in ALIGNMENT_METRICS}
    for i in range(len(q.supports)):
        keep = (q.owners == i) & has_roi
        if bool(keep.any()):
            for m in ALIGNMENT_METRICS:
                per_episode[m].append(float(aligned[m][keep].mean()))
    # None when no explained query has an ROI (e.g. unlabelled store images).
    return {"alignment": {m: mean_ci(v) if v else None for m, v in per_episode.items()},
            "alignment_episodes": per_episode}


def _faithfulness(model: ProtoNet, data: FewShotData, q: EpisodeQueries, maps: torch.Tensor, sizes: CheckSizes,
                  seed: int) -> dict:
    n = min(sizes.faithfulness_images, len(q.rows))
    if n == 0:
        return {}
    aucs: dict[str, list] = {}
    for s in range(0, n, sizes.batch):
        sl = slice(s, min(s + sizes.batch, n))
        log_prob = q.targets(sl, model.metric)
        res = deletion_insertion(model, data.images[q.rows[sl]], maps[sl], lambda z: log_prob(z).exp(),
                                 steps=sizes.deletion_steps, baseline=BASELINE, seed=seed + s)
        for k, v in res.aucs().items():
            aucs.setdefault(k, []).extend(v.tolist())
    return {"images": n, **{f"{k}_auc": mean_ci(v) for k, v in aucs.items()},
            "auc_images": aucs}


def explanation_checks(model: ProtoNet, data: FewShotData, *, way: int = 3, shot: int = 5, query: int = 5,
                       sizes: CheckSizes = FULL_CHECKS, seed: int = D.eval_seed,
                       explainers: Sequence[str] = EXPLAINERS, progress: ProgressCallback | None = None,
                       patient_disjoint: bool = D.eval_disjoint) -> dict:
    """Alignment, randomisation and deletion/insertion for every explainer on test episodes of ``data``.

    Args:
        model: a trained prototypical network (left in its previous mode, weights untouched).
        data: held-out test images with ROI masks.
        way, shot, query: the episode shape.
        sizes: see :class:`CheckSizes`.
        seed: the evaluation seed (the run's ``eval_seed``, so the episodes are those of its
            evaluation); also seeds the randomisation and the deletion tie-breaks.
        explainers: names from :data:`core.explain.EXPLAINERS`.
        patient_disjoint: support and query of every episode from different patients, as in
            :func:`core.fewshot.evaluate_episodic`.

    Returns:
        JSON-ready ``{"sizes", "seed", "score", "map_sign", "baseline", "episodes",
        "explainers": {name: {"alignment": {metric: mean_ci}, "alignment_episodes",
        "randomisation": per-layer means, "faithfulness": AUC mean_ci's, "seconds"}}}``.
    """
    sizes.validate()
    unknown = [n for n in explainers if n not in EXPLAINERS]
    if unknown:
        raise ConfigError(f"unknown explainer {unknown[0]!r}; choose from {', '.join(EXPLAINERS)}")
    factories = _factories(sizes, explainers)
    was_training = model.training
    model.eval()
    try:
        q = episode_queries(model, data, way, shot, query, sizes.episodes, seed, patient_disjoint)
        n_rand = min(sizes.randomisation_images, len(q.rows))
        out = {}
        for k, (name, factory) in enumerate(factories.items()):
            start = time.perf_counter()
            maps, unit, gaps = _explain_all(factory, model, data, q, len(q.rows), sizes.batch)
            seconds = time.perf_counter() - start
            entry = {**_alignment(unit, data, q), "seconds": seconds, "images": len(q.rows),
                     "faithfulness": _faithfulness(model, data, q, maps, sizes, seed)}
            if gaps:  # Integrated Gradients: |sum of attributions - (score(x) - score(baseline))|
                entry["completeness_gap"] = mean_ci(gaps)
            if n_rand:
                sl = slice(0, n_rand)
                check = randomisation_check(
                    model, data.images[q.rows[sl]], None, {name: factory}, seed=seed,
                    retarget=lambda m: q.targets(sl, m.metric, protos=q.reformed_protos(m, data, sl)))
                entry["randomisation"] = {"images": n_rand, **check.summary()[name]}
            out[name] = entry
            if progress is not None:
                progress(ProgressEvent("explain", k + 1, len(factories), message=name))
    finally:
        model.train(was_training)
    return {"sizes": asdict(sizes), "seed": seed, "score": "log_prob", "map_sign": MAP_SIGN, "baseline": BASELINE,
            "episodes": len(q.supports), "explainers": out}


def check_run(config, run_dir: str | Path, sizes: CheckSizes = FULL_CHECKS,
              progress: ProgressCallback | None = None, workspace=None,
              explainers: Sequence[str] = EXPLAINERS) -> dict:
    """:func:`explanation_checks` for a finished :func:`core.fewshot.run_fewshot` run folder.

    Loads ``run_dir/checkpoint.pt`` and rebuilds the run's held-out test split
    from ``config`` (a :class:`core.fewshot.RunConfig`); the episodes are those
    of the run's own evaluation (its ``eval_seed`` and ``eval_disjoint``).
    """
    from core.fewshot.checkpoint import load_checkpoint
    from core.fewshot.experiment import load_split

    model, _ = load_checkpoint(Path(run_dir) / "checkpoint.pt")
    _, test = load_split(config, workspace)
    t = config.train
    return explanation_checks(model, test, way=t.way, shot=t.shot, query=t.query, sizes=sizes,
                              seed=config.eval_seed, explainers=explainers, progress=progress,
                              patient_disjoint=config.eval_disjoint)
