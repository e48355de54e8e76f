"""A trained prototypical network under worst-case attack, rotation and rescaling, episode by episode.

:func:`perturbation_report` draws held-out test episodes (seeded, patient-
disjoint as the run says: the same episodes for every condition), forms each
episode's prototypes from its *clean* support set, and perturbs only the
queries:

* ``attack``: the worst case of an attack (default the fast AutoAttack-style
  ensemble, :class:`core.attacks.AutoAttack`) on a :class:`PrototypeClassifier`
  holding that episode's prototypes, labels = episode labels, at every ε
  (L∞, pixel units); optionally only inside or only outside the ROI;
* ``rotation``: by each angle (degrees, counter-clockwise; ``"random"`` = one
  seeded uniform angle in [0, 360) per image), ROI rotated with the image;
* ``scale``: zoom by each factor about the centre, ROI zoomed with the image.

Per condition: episodic accuracy, and the CAM-ROI soft Dice and pointing game
of the Grad-CAM of each perturbed query w.r.t. its true class's prototype
score (the run's ``cam_score``, prototypes constant) against the (transformed)
ROI; each as mean +- 95% CI over episodes (:func:`core.fewshot.mean_ci`;
alignment per episode over its queries with a non-empty ROI).  A query counts
as correct under attack only if it is correct when clean, no ensemble member
broke it and the model still classifies the returned image correctly.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from core.errors import ConfigError
from core.explain import GradCAM, cam_alignment
from core.fewshot.classifier import PrototypeClassifier
from core.fewshot.data import FewShotData
from core.fewshot.evaluate import PrototypeScoreTarget, embed
from core.fewshot.guidance import CAM_SCORES
from core.fewshot.protonet import ProtoNet, class_prototypes
from core.fewshot.roi_transforms import rescale_with_roi, rotate_with_roi
from core.fewshot.sampler import EpisodicSampler
from core.fewshot.stats import mean_ci
from core.fewshot_defaults import DEFAULTS as D
from core.progress import ProgressCallback, ProgressEvent

__all__ = ["perturbation_report", "run_report", "rotate_with_roi", "rescale_with_roi", "FORMAT", "RANDOM_ANGLE",
           "DEFAULT_EPS", "DEFAULT_ANGLES", "DEFAULT_SCALES", "METRICS", "KINDS"]

FORMAT = "equiguard-fewshot-robustness/1"
RANDOM_ANGLE = "random"
DEFAULT_EPS: tuple[float, ...] = (0.0, 2 / 255, 8 / 255)
DEFAULT_ANGLES: tuple[float | str, ...] = (0.0, 90.0, RANDOM_ANGLE)
DEFAULT_SCALES: tuple[float, ...] = (0.8, 1.0, 1.25)
#: What is measured per condition, and the perturbation kinds (the report's ``curves`` keys).
METRICS = ("accuracy", "dice", "pointing")
KINDS = ("attack", "rotation", "scale")


def _check(eps, angles, scales, cam_score: str, roi_mode: str | None, attack: str) -> tuple[list, list, list]:
    from core.attacks import ATTACKS, ROI_MODES, as_eps_tensor, check_eps_range

    eps_t = torch.zeros(0, dtype=torch.float64)
    if len(eps):
        eps_t, _ = as_eps_tensor(list(eps))
        check_eps_range(eps_t, "inf", ())
    try:
        angles = [a if a == RANDOM_ANGLE else float(a) for a in angles]
    except (TypeError, ValueError):
        angles = [math.nan]
    if any(a != RANDOM_ANGLE and not math.isfinite(a) for a in angles):
        raise ConfigError(f"rotation angles must be finite degrees or {RANDOM_ANGLE!r}")
    scales = [float(s) for s in scales]
    if any(not (math.isfinite(s) and s > 0) for s in scales):
        raise ConfigError("scale factors must be finite and > 0")
    if cam_score not in CAM_SCORES:
        raise ConfigError(f"unknown CAM score {cam_score!r}; choose one of {', '.join(CAM_SCORES)}")
    if roi_mode is not None and roi_mode not in ROI_MODES:
        raise ConfigError(f"ROI mode must be one of {', '.join(ROI_MODES)} (or none), got {roi_mode!r}")
    if attack not in ATTACKS:
        raise ConfigError(f"unknown attack {attack!r}; choose one of {', '.join(sorted(ATTACKS))}")
    return [float(e) for e in eps_t.tolist()], angles, scales


def _make_attack(clf: PrototypeClassifier, eps: list[float], attack: str, version: str, steps: int | None,
                 n_queries: int | None, roi_mode: str | None):
    from core.attacks import AutoAttack, make_attack

    if attack == "autoattack":
        return AutoAttack(clf, eps, version=version, steps=steps, n_queries=n_queries, roi_mode=roi_mode or "inside")
    atk = make_attack(attack, clf, eps, steps=steps, n_queries=n_queries)
    atk.roi_mode = roi_mode or "inside"
    return atk


class _Measure:
    """Accuracy, Dice and pointing of one episode's (perturbed) queries.

    Grad-CAM's hooks are attached per call, so attacks run on a hook-free model.
    """

    def __init__(self, model: ProtoNet, cam_score: str) -> None:
        self.model, self.cam_score = model, cam_score

    def __call__(self, x: torch.Tensor, y: torch.Tensor, roi: torch.Tensor, protos: torch.Tensor,
                 correct: torch.Tensor | None = None) -> dict[str, float | None]:
        device = protos.device
        with torch.no_grad():
            pred = self.model.logits(self.model(x.to(device)), protos).argmax(1).cpu()
        ok = pred == y if correct is None else correct & (pred == y)
        with GradCAM(self.model, self.model.cam_layer) as cam:
            maps = cam(x.to(device), PrototypeScoreTarget(protos, y.to(device), self.model.metric, self.cam_score))
        aligned = cam_alignment(maps.detach().cpu(), roi)
        has = roi.flatten(1).any(1)
        out: dict[str, float | None] = {"accuracy": float(ok.float().mean())}
        for m in ("dice", "pointing"):
            out[m] = float(aligned[m][has].mean()) if bool(has.any()) else None
        return out


def _summary(rows: list[dict]) -> dict:
    return {m: mean_ci([r[m] for r in rows if r[m] is not None]) for m in METRICS}


def perturbation_report(model: ProtoNet, test_data: FewShotData, *, way: int = D.way, shot: int = D.shot,
                        query: int = D.query, episodes: int = 20, seed: int = D.eval_seed,
                        eval_disjoint: bool = D.eval_disjoint, cam_score: str = D.cam_score,
                        eps: Sequence[float] = DEFAULT_EPS, angles: Sequence[float | str] = DEFAULT_ANGLES,
                        scales: Sequence[float] = DEFAULT_SCALES, attack: str = "autoattack",
                        attack_version: str = "fast", attack_steps: int | None = None,
                        n_queries: int | None = None, roi_mode: str | None = None,
                        progress: ProgressCallback | None = None) -> dict:
    """Episodic accuracy, CAM-ROI Dice and pointing game of ``model`` under each perturbation.

    Args:
        model: a trained :class:`ProtoNet` (used in eval mode, restored after; weights untouched).
        test_data: held-out images (N, C, H, W) in [0, 1] with ROI masks (N, H, W) and patient ids.
        way, shot, query: episode shape (the run's).
        episodes: how many test episodes (the first of the stream seeded by ``seed``, as
            :func:`core.fewshot.evaluate_episodic` draws them).
        seed: episode seed (the run's ``eval_seed``); also seeds the attack (per episode) and the
            random angles, so the report is reproducible.
        eval_disjoint: support and query of every episode from different patients.
        cam_score: Grad-CAM target, one of :data:`core.fewshot.guidance.CAM_SCORES`.
        eps: L∞ radii in pixel units, each in [0, 1] (0 = clean).
        angles: rotation angles in degrees, or ``"random"``.
        scales: zoom factors > 0 (1 = clean).
        attack: a name of :data:`core.attacks.ATTACKS` (``autoattack`` = the ensemble, the worst case).
        attack_version: ``fast`` or ``standard`` (ensemble budget); ``attack_steps`` / ``n_queries``
            override its gradient steps / Square queries.
        roi_mode: ``None`` (whole image), ``"outside"`` or ``"inside"`` the ROI only.
        progress: called once per episode.

    Returns:
        JSON-ready ``{"format", "settings", "seeds", "clean": {metric: mean_ci},
        "curves": {kind: {"x": [...], metric: [mean_ci per x]}}, "per_episode": {"clean": {metric:
        [...]}, kind: [{metric: [...]} per x]}, "attack_info", "seconds"}``; metrics are
        :data:`METRICS` (fractions; per-episode Dice/pointing is ``None`` for an episode without ROI).

    Raises:
        ConfigError: bad ε (outside [0, 1]), angle, scale, CAM score, ROI mode or attack, data that
            cannot fill the episodes, or an ROI mode on data without any ROI.
    """
    eps, angles, scales = _check(eps, angles, scales, cam_score, roi_mode, attack)
    if int(episodes) < 1:
        raise ConfigError("need at least one test episode")
    if roi_mode is not None and not bool(test_data.masks.flatten(1).any()):
        raise ConfigError(f"ROI mode {roi_mode!r} needs images with an ROI; the test images have none")
    sampler = EpisodicSampler(test_data.labels, way, shot, query, episodes=int(episodes), seed=seed,
                              groups=test_data.groups, patient_disjoint=eval_disjoint,
                              class_names=test_data.class_names)
    start = time.perf_counter()
    rows: dict[str, list] = {"clean": [], **{k: [] for k in KINDS}}
    info: dict = {}
    was_training = model.training
    model.eval()
    try:
        _run_episodes(model, _Measure(model, cam_score), sampler, test_data, rows, info, eps, angles, scales,
                      attack, attack_version, attack_steps, n_queries, roi_mode, seed, progress)
    finally:
        model.train(was_training)
    xs = {"attack": eps, "rotation": angles, "scale": scales}
    curves, per_episode = {}, {"clean": {m: [r[m] for r in rows["clean"]] for m in METRICS}}
    for kind in KINDS:
        cols = [[ep_rows[j] for ep_rows in rows[kind]] for j in range(len(xs[kind]))]
        curves[kind] = {"x": xs[kind], **{m: [_summary(c)[m] for c in cols] for m in METRICS}}
        per_episode[kind] = [{m: [r[m] for r in c] for m in METRICS} for c in cols]
    return {
        "format": FORMAT,
        "settings": {"way": way, "shot": shot, "query": query, "episodes": len(sampler), "eval_disjoint": eval_disjoint,
                     "cam_score": cam_score, "metric": model.metric, "eps": eps, "angles": angles, "scales": scales,
                     "attack": attack, "attack_version": attack_version if attack == "autoattack" else None,
                     "attack_steps": attack_steps, "n_queries": n_queries, "roi_mode": roi_mode, "norm": "inf"},
        "seeds": {"episodes": int(seed), "attack": f"SeedSequence([{int(seed)}, episode])",
                  "random_angles": int(seed)},
        "clean": _summary(rows["clean"]),
        "curves": curves,
        "per_episode": per_episode,
        "attack_info": info,
        "seconds": time.perf_counter() - start,
    }


def _run_episodes(model, measure, sampler, data, rows, info, eps, angles, scales, attack, version, steps, n_queries,
                  roi_mode, seed, progress) -> None:
    """Fill ``rows`` (clean: one dict per episode; each kind: one list of dicts per episode, one per x)."""
    angle_gen = torch.Generator().manual_seed(int(seed))
    device = next(model.parameters()).device
    for i, ep in enumerate(sampler):
        protos = class_prototypes(embed(model, data.images[ep.support]), ep.support_labels.to(device), sampler.way)
        x, y, roi = data.images[ep.query].float(), ep.query_labels.long(), data.masks[ep.query].bool()
        clean = measure(x, y, roi, protos)

        def moved(pair: tuple[torch.Tensor, torch.Tensor]) -> dict:
            return measure(pair[0], y, pair[1], protos)

        rows["clean"].append(clean)
        rows["attack"].append(_attack_rows(model, measure, clean, x, y, roi, protos, eps, ep, data, attack, version,
                                           steps, n_queries, roi_mode, seed, i, info))
        random_angles = torch.rand(len(x), generator=angle_gen) * 360.0
        rows["rotation"].append([moved(rotate_with_roi(x, roi, random_angles if a == RANDOM_ANGLE else a))
                                 if a != 0.0 else clean for a in angles])
        rows["scale"].append([moved(rescale_with_roi(x, roi, s)) if s != 1.0 else clean for s in scales])
        if progress is not None:
            progress(ProgressEvent("fewshot-robustness", i + 1, len(sampler),
                                   metrics={"clean_acc": float(np.mean([r["accuracy"] for r in rows["clean"]]))}))


def _attack_rows(model, measure, clean: dict, x, y, roi, protos, eps, ep, data, attack, version, steps, n_queries,
                 roi_mode, seed: int, index: int, info: dict) -> list[dict]:
    """One row per ε of the attacked queries of one episode (ε = 0 is the ``clean`` row)."""
    names = [data.class_names[int(c)] for c in ep.classes]
    clf = PrototypeClassifier(model, protos, names, x.shape[1], x.shape[-1]).eval()
    with torch.no_grad():
        clean_ok = clf(x.to(protos.device)).argmax(1).cpu() == y
    positive = [e for e in eps if e > 0]
    out_by_eps: dict[float, dict] = {}
    if positive:
        atk = _make_attack(clf, positive, attack, version, steps, n_queries, roi_mode)
        gen = torch.Generator(device=protos.device).manual_seed(
            int(np.random.SeedSequence([int(seed), index]).generate_state(1)[0]))
        region = roi if roi_mode is not None else None
        if attack == "autoattack":
            res = atk.evaluate(x, y, eps=positive, roi=region, generator=gen)
            adv, survived = res.adversarial.cpu(), (res.broken_by <= 0).cpu()
            info.setdefault("members", list(res.attacks))
            info.setdefault("skipped", dict(res.skipped))
            info.setdefault("budget", atk.budget())
        else:
            adv = atk(x, y, eps=positive, roi=region, generator=gen).cpu()
            survived = torch.ones(adv.shape[:2], dtype=torch.bool)
        for k, e in enumerate(positive):
            out_by_eps[e] = measure(adv[k], y, roi, protos, correct=clean_ok & survived[k])
    return [out_by_eps.get(e, clean) for e in eps]


def _run_config(metrics: dict):
    from core.fewshot.experiment import RunConfig
    from core.fewshot.train import TrainConfig

    try:
        cfg = dict(metrics["config"])
        train = TrainConfig(**cfg.pop("train"))
        cfg.setdefault("data_seed", train.seed)  # runs from before separate seeds drew their data with it
        return RunConfig(**cfg, train=train)
    except (KeyError, TypeError):
        raise ConfigError("metrics.json does not hold a few-shot run configuration") from None


def run_report(run_dir: str | Path, *, workspace=None, episodes: int | None = None,
               progress: ProgressCallback | None = None, **options) -> dict:
    """:func:`perturbation_report` of a finished ``fewshot`` run folder (``checkpoint.pt`` + ``metrics.json``).

    Loads the checkpoint (it must hold its support set) and rebuilds the run's
    held-out test split exactly (:func:`core.fewshot.load_split` with the run's
    data seed); episode shape, ``eval_seed``, ``eval_disjoint`` and ``cam_score``
    are the run's.  ``episodes`` defaults to the run's ``eval_episodes``;
    ``options`` are the remaining keyword arguments of :func:`perturbation_report`.
    The result adds ``"run": {"folder", "backbone", "guidance", "dataset", ...}``.

    Raises:
        ConfigError: not a run folder, or metrics.json without a run configuration.
        LoadError: unreadable checkpoint, or one without a support set.
    """
    from core.fewshot.classifier import load_fewshot_classifier
    from core.fewshot.experiment import load_split

    run_dir = Path(run_dir)
    metrics_path, ckpt = run_dir / "metrics.json", run_dir / "checkpoint.pt"
    if not metrics_path.is_file() or not ckpt.is_file():
        raise ConfigError(f"{run_dir.name or run_dir} is not a few-shot run folder (needs checkpoint.pt and "
                          "metrics.json)")
    try:
        metrics = json.loads(metrics_path.read_text())
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(f"{metrics_path.name} of {run_dir.name} is not valid JSON") from None
    config = _run_config(metrics if isinstance(metrics, dict) else {})
    clf, payload = load_fewshot_classifier(ckpt)
    _, test = load_split(config, workspace)
    t = config.train
    report = perturbation_report(clf.net, test, way=t.way, shot=t.shot, query=t.query,
                                 episodes=config.eval_episodes if episodes is None else episodes,
                                 seed=config.eval_seed, eval_disjoint=config.eval_disjoint, cam_score=t.cam_score,
                                 progress=progress, **options)
    report["run"] = {"folder": str(run_dir), "name": f"{run_dir.parent.name}/{run_dir.name}",
                     "backbone": config.backbone, "guidance": t.guidance, "dataset": config.dataset,
                     "spurious": config.spurious, "cue_kind": config.cue_kind,
                     "seeds": {"data": config.data_seed, "train": t.seed, "eval": config.eval_seed},
                     "run_accuracy": metrics.get("accuracy")}
    return report
