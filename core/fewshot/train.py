"""Episodic training of a prototypical network, with or without expert guidance.

Guidance modes:

* ``dice`` - the MICCAI paper: ``L = L_proto + alpha * (1 - softDice(CAM, ROI))``
  on the query images (optionally the support too).  The CAM target is the
  episode log-probability of the true class (``cam_score="log_prob"``) or the
  paper's negative distance to its prototype (``"distance"``); prototypes
  are detached.  ``first_order=True`` detaches Grad-CAM's channel weights as
  the paper's code does; ``False`` differentiates through them.
  ``cam_norm`` chooses how the CAM is normalised before the Dice
  (:func:`core.explain.normalise_cam`, :func:`core.explain.cam_dice_loss`).
* ``rrr`` - Ross et al.'s input-gradient penalty outside the ROI.
* ``none`` - plain prototypical training.

Images without an ROI (empty mask) are left out of the explanation term.
Every default comes from :data:`core.fewshot_defaults.DEFAULTS`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from core.errors import ConfigError
from core.explain import CAM_NORMALISATIONS, GradCAM, cam_dice_loss, rrr_penalty
from core.fewshot.data import FewShotData
from core.fewshot.guidance import CAM_SCORES, GUIDANCE, EpisodePrototypeTarget
from core.fewshot_defaults import DEFAULTS as D
from core.fewshot_defaults import preset
from core.fewshot.protonet import ProtoNet, class_prototypes
from core.fewshot.sampler import Episode, EpisodicSampler
from core.progress import ProgressCallback, ProgressEvent

__all__ = ["TrainConfig", "TrainResult", "train_fewshot", "episode_step"]


@dataclass
class TrainConfig:
    """Options of :func:`train_fewshot` (JSON-serialisable via ``asdict``).

    ``seed`` is the training seed (initialisation and training episodes); the
    data and evaluation seeds live in :class:`core.fewshot.RunConfig`.
    ``patient_disjoint`` draws every training episode's support and query from
    different patients.
    """

    way: int = D.way
    shot: int = D.shot
    query: int = D.query
    episodes: int = D.episodes
    lr: float = D.lr
    alpha: float = D.alpha
    guidance: str = D.guidance
    first_order: bool = D.first_order
    guide_support: bool = D.guide_support
    cam_score: str = D.cam_score
    dice_eps: float = 1e-6
    seed: int = D.train_seed
    cam_norm: str = D.cam_norm
    patient_disjoint: bool = D.train_disjoint

    @classmethod
    def from_preset(cls, name: str = "recommended", **overrides) -> "TrainConfig":
        """The preset's values (:data:`core.fewshot_defaults.PRESETS`), then ``overrides``."""
        p = preset(name)
        values = {f: getattr(p, f) for f in ("way", "shot", "query", "episodes", "lr", "alpha", "guidance",
                                             "first_order", "guide_support", "cam_score", "cam_norm")}
        values.update(seed=p.train_seed, patient_disjoint=p.train_disjoint)
        return cls(**{**values, **overrides})

    def validate(self) -> None:
        if self.guidance not in GUIDANCE:
            raise ConfigError(f"unknown guidance {self.guidance!r}; choose one of {', '.join(GUIDANCE)}")
        if self.cam_score not in CAM_SCORES:
            raise ConfigError(f"unknown CAM score {self.cam_score!r}; choose one of {', '.join(CAM_SCORES)}")
        if self.cam_norm not in CAM_NORMALISATIONS:
            raise ConfigError(f"unknown CAM normalisation {self.cam_norm!r}; "
                              f"choose one of {', '.join(CAM_NORMALISATIONS)}")
        if self.alpha < 0 or self.lr <= 0 or self.episodes < 1:
            raise ConfigError("alpha must be >= 0, the learning rate > 0 and episodes >= 1")


@dataclass
class TrainResult:
    config: dict
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def episode_step(model: ProtoNet, data: FewShotData, episode: Episode, config: TrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of one episode (graph attached) and its scalar parts.

    Rows are support then query; ``data`` holds the images (N, C, H, W) and masks (N, H, W).
    """
    device = next(model.parameters()).device
    rows = torch.cat([episode.support, episode.query])
    x = data.images[rows].to(device)
    masks = data.masks[rows].to(device)
    labels = torch.cat([episode.support_labels, episode.query_labels]).to(device)
    n_s, way = len(episode.support), config.way
    parts: dict[str, float] = {}

    if config.guidance == "dice":
        with GradCAM(model, model.cam_layer, create_graph=not config.first_order, normalise=config.cam_norm) as cam:
            maps = cam(x, EpisodePrototypeTarget(n_s, labels, way, model.metric, config.cam_score))
            emb = cam.outputs
        guided = torch.zeros(len(rows), dtype=torch.bool, device=device)
        guided[n_s:] = True
        if config.guide_support:
            guided[:n_s] = True
        guided &= masks.flatten(1).any(1)
    elif config.guidance == "rrr":
        x = x.requires_grad_(True)
        emb = model(x)
    else:
        emb = model(x)

    protos = class_prototypes(emb[:n_s], labels[:n_s], way)
    logits = model.logits(emb[n_s:], protos)
    proto_loss = F.cross_entropy(logits, labels[n_s:])
    loss = proto_loss
    parts["proto_loss"] = float(proto_loss.detach())
    parts["acc"] = float((logits.argmax(1) == labels[n_s:]).float().mean())

    if config.guidance == "dice" and bool(guided.any()):
        exp = cam_dice_loss(maps[guided], masks[guided], config.cam_norm, eps=config.dice_eps)
        loss = loss + config.alpha * exp
        parts["exp_loss"] = float(exp.detach())
    elif config.guidance == "rrr":
        pen = rrr_penalty(x, F.log_softmax(logits, 1), masks) if n_s else logits.new_zeros(())
        loss = loss + config.alpha * pen
        parts["exp_loss"] = float(pen.detach())
    parts["loss"] = float(loss.detach())
    return loss, parts


def train_fewshot(model: ProtoNet, data: FewShotData, config: TrainConfig,
                  progress: ProgressCallback | None = None) -> TrainResult:
    """Train ``model`` in place on episodes drawn from ``data`` (training patients only)."""
    config.validate()
    torch.manual_seed(config.seed)
    sampler = EpisodicSampler(data.labels, config.way, config.shot, config.query,
                              episodes=config.episodes, seed=config.seed, groups=data.groups,
                              patient_disjoint=config.patient_disjoint, class_names=data.class_names)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    result = TrainResult(config=asdict(config))
    was_training = model.training
    model.train()
    start = time.perf_counter()
    try:
        for step, episode in enumerate(sampler, start=1):
            optimiser.zero_grad(set_to_none=True)
            loss, parts = episode_step(model, data, episode, config)
            loss.backward()
            optimiser.step()
            result.history.append(parts)
            if progress is not None:
                progress(ProgressEvent("train", step, config.episodes, metrics=parts))
    finally:
        model.train(was_training)
    result.seconds = time.perf_counter() - start
    return result
