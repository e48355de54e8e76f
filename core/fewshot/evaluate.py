"""Episodic evaluation on held-out patients: accuracy and CAM-ROI alignment, mean +- 95% CI."""

from __future__ import annotations

from typing import Sequence

import torch

from core.errors import ConfigError
from core.explain import ALIGNMENT_METRICS, GradCAM, cam_alignment
from core.fewshot.data import FewShotData
from core.fewshot.distances import distance_to_sets
from core.fewshot.guidance import CAM_SCORES
from core.fewshot.protonet import ProtoNet, class_prototypes
from core.fewshot.sampler import EpisodicSampler
from core.fewshot.stats import mean_ci
from core.fewshot_defaults import DEFAULTS as D
from core.progress import ProgressCallback, ProgressEvent

__all__ = ["evaluate_episodic", "embed", "PrototypeScoreTarget"]


@torch.no_grad()
def embed(model: ProtoNet, images: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """(N, C, H, W) -> (N, D) embeddings in the model's current mode."""
    device = next(model.parameters()).device
    return torch.cat([model(images[i:i + batch_size].to(device)) for i in range(0, len(images), batch_size)])


def evaluate_episodic(model: ProtoNet, data: FewShotData, way: int = D.way, shot: int = D.shot,
                      query: int = D.query, episodes: int = D.eval_episodes, seed: int = D.eval_seed,
                      cam_episodes: int = D.cam_episodes, cam_scores: Sequence[str] = (D.cam_score,),
                      cam_batch: int = 96, progress: ProgressCallback | None = None,
                      patient_disjoint: bool = D.eval_disjoint) -> dict:
    """Evaluate on ``episodes`` episodes drawn from ``data`` (test patients only).

    With ``patient_disjoint`` (the default) the support and the query of every
    episode come from different patients, so nothing patient-specific (anatomy,
    intensity, a per-patient cue) can leak from support to query.  ``seed``
    is the evaluation seed: the same seed draws the same episodes from the
    same data, so models evaluated with it are compared on paired episodes.

    The model runs in eval mode, so an image's embedding does not depend on
    its episode: all images are embedded once and each episode only forms
    prototypes and classifies.  Grad-CAMs of the queries of the first
    ``cam_episodes`` episodes are computed (batched across episodes) for each
    CAM score in ``cam_scores`` (see :data:`core.fewshot.guidance.CAM_SCORES`;
    the episode's prototypes are constants).

    Alignment uses min-max normalised Grad-CAMs whatever normalisation a
    model was trained with, so models are compared on one scale.

    Returns:
        ``{"accuracy": mean_ci, "alignment": {metric: mean_ci} (first score),
        "alignment_target": name of that first score, "alignment_by_score":
        {score: {metric: mean_ci}}, "episodes": n, "cam_episodes": m,
        "patient_disjoint": bool, "eval_seed": seed, "episode_accuracy": [...]}``;
        accuracies are fractions.  Alignment statistics are over episodes
        (per-episode means over the queries that have an ROI).
    """
    for score in cam_scores:
        if score not in CAM_SCORES:
            raise ConfigError(f"unknown CAM score {score!r}; choose one of {', '.join(CAM_SCORES)}")
    sampler = EpisodicSampler(data.labels, way, shot, query, episodes=episodes, seed=seed, groups=data.groups,
                              patient_disjoint=patient_disjoint, class_names=data.class_names)
    was_training = model.training
    model.eval()
    total = episodes + len(cam_scores) * min(cam_episodes, episodes)
    try:
        emb = embed(model, data.images)
        accs: list[float] = []
        jobs: list[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]] = []
        for i, ep in enumerate(sampler):
            protos = class_prototypes(emb[ep.support], ep.support_labels.to(emb.device), way)
            pred = model.logits(emb[ep.query], protos).argmax(1).cpu()
            accs.append(float((pred == ep.query_labels).float().mean()))
            if i < cam_episodes:
                jobs.append((i, ep.query, protos, ep.query_labels))
            if progress is not None and (i + 1) % 25 == 0:
                progress(ProgressEvent("eval", i + 1, total, metrics={"acc": sum(accs) / len(accs)}))
        by_score = {}
        for k, score in enumerate(cam_scores):
            per_episode = _alignment(model, data, jobs, score, cam_batch, progress, episodes + k * len(jobs), total)
            by_score[score] = {m: mean_ci(per_episode[m]) for m in ALIGNMENT_METRICS}
    finally:
        model.train(was_training)
    return {
        "accuracy": mean_ci(accs),
        "alignment": by_score[cam_scores[0]] if cam_scores else {},
        "alignment_target": cam_scores[0] if cam_scores else None,
        "alignment_by_score": by_score,
        "episodes": episodes,
        "cam_episodes": len(jobs),
        "patient_disjoint": bool(patient_disjoint),
        "eval_seed": int(seed),
        "episode_accuracy": accs,
    }


class PrototypeScoreTarget:
    """Grad-CAM target: score of row b against its own prototypes, held constant.

    ``protos`` is (B, way, D) (each row may come from a different episode) or
    (way, D) shared by all rows; ``labels`` (B,) index the true class.  The
    score is one of :data:`core.fewshot.guidance.CAM_SCORES`: ``distance``
    (-distance to the true prototype, the paper) or ``log_prob`` (the episode
    log-probability of the true class).
    """

    def __init__(self, protos: torch.Tensor, labels: torch.Tensor, metric: str, score: str) -> None:
        if score not in CAM_SCORES:
            raise ConfigError(f"unknown CAM score {score!r}; choose one of {', '.join(CAM_SCORES)}")
        protos = protos.detach()
        if protos.dim() == 2:
            protos = protos.unsqueeze(0).expand(len(labels), -1, -1)
        self.protos, self.labels, self.metric, self.score = protos, labels, metric, score

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        d = distance_to_sets(z, self.protos, self.metric)  # (B, way)
        if self.score == "distance":
            return -d.gather(1, self.labels[:, None]).squeeze(1)
        return torch.log_softmax(-d, dim=1).gather(1, self.labels[:, None]).squeeze(1)


def _alignment(model: ProtoNet, data: FewShotData, jobs, score: str, cam_batch: int, progress,
               offset: int, total: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {m: [] for m in ALIGNMENT_METRICS}
    if not jobs:
        return out
    device = next(model.parameters()).device
    rows = torch.cat([q for _, q, _, _ in jobs])
    owners = torch.cat([torch.full((len(q),), i) for i, q, _, _ in jobs])
    protos = torch.cat([p.unsqueeze(0).expand(len(q), -1, -1) for _, q, p, _ in jobs])
    labels = torch.cat([y for _, _, _, y in jobs]).to(device)
    scores: dict[str, list[torch.Tensor]] = {m: [] for m in ALIGNMENT_METRICS}
    with GradCAM(model, model.cam_layer) as cam:
        for start in range(0, len(rows), cam_batch):
            sl = slice(start, start + cam_batch)
            target = PrototypeScoreTarget(protos[sl], labels[sl], model.metric, score)
            maps = cam(data.images[rows[sl]].to(device), target).detach()
            aligned = cam_alignment(maps.cpu(), data.masks[rows[sl]])
            for m in ALIGNMENT_METRICS:
                scores[m].append(aligned[m])
            if progress is not None:
                done = min(len(rows), start + cam_batch)
                progress(ProgressEvent("eval", offset + int(owners[done - 1]) + 1, total))
    has_roi = data.masks[rows].flatten(1).any(1)
    for m in ALIGNMENT_METRICS:
        values = torch.cat(scores[m])
        for i, _, _, _ in jobs:
            keep = (owners == i) & has_roi
            if bool(keep.any()):
                out[m].append(float(values[keep].mean()))
    return out
