"""The few-shot reproduction grid, its aggregation and its figures (see ``reproduce fewshot``)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core.atomic import atomic_path, write_text_atomic
from core.fewshot.experiment import RunConfig, write_json
from core.fewshot.runner import pool_cells, run_grid, seed_pairs
from core.fewshot.train import TrainConfig
from core.progress import ProgressCallback

__all__ = ["ARMS", "Sizes", "FULL", "QUICK", "reproduce_fewshot", "grid", "make_run", "aggregate",
           "markdown_table"]

#: arm name -> TrainConfig overrides (every arm also gets alpha = ALPHA and min-max CAMs).
ARMS: dict[str, dict] = {
    "unguided": {"guidance": "none"},
    "guided (paper target)": {"guidance": "dice", "cam_score": "distance", "first_order": False},
    "guided (log-prob target)": {"guidance": "dice", "cam_score": "log_prob", "first_order": False},
    "guided (log-prob, 1st order)": {"guidance": "dice", "cam_score": "log_prob", "first_order": True},
}
#: The arm that trains with the recommended defaults (core.fewshot_defaults.DEFAULTS).
RECOMMENDED_ARM = "guided (log-prob, 1st order)"
QUICK_ARMS = ("unguided", RECOMMENDED_ARM)
#: The guided arm shown next to the unguided one in the gallery.
GALLERY_ARM = RECOMMENDED_ARM
DATASETS = ("brain-phantom", "cxr-phantom")
ALPHA = 1.0


@dataclass(frozen=True)
class Sizes:
    patients: int
    slices: int
    size: int
    hidden: int
    embed_dim: int
    episodes: int
    eval_episodes: int
    cam_episodes: int


FULL = Sizes(patients=48, slices=4, size=64, hidden=32, embed_dim=64, episodes=150, eval_episodes=600, cam_episodes=40)
QUICK = Sizes(patients=24, slices=3, size=48, hidden=8, embed_dim=16, episodes=12, eval_episodes=40, cam_episodes=3)


def make_run(dataset: str, spurious: bool, arm: str, train: dict, data_seed: int, train_seed: int, sizes: Sizes,
             cue_kind: str = "corner") -> dict:
    """One run of a grid: cell labels, seeds, its name and its :class:`RunConfig`.

    Every run of one data seed sees the same data and, through the fixed
    evaluation seed, the same test episodes: arms are compared on paired episodes.
    """
    cfg = RunConfig(dataset=dataset, hidden=sizes.hidden, embed_dim=sizes.embed_dim, spurious=spurious,
                    cue_kind=cue_kind, patients=sizes.patients, slices=sizes.slices, size=sizes.size,
                    eval_episodes=sizes.eval_episodes, cam_episodes=sizes.cam_episodes, data_seed=data_seed,
                    train=TrainConfig(**{"episodes": sizes.episodes, "alpha": ALPHA, "cam_norm": "minmax",
                                         **train, "seed": train_seed}))
    slug = arm.replace(" ", "_").replace("(", "").replace(")", "").replace(",", "")
    cue = (f"spurious-{cue_kind}" if cue_kind != "corner" else "spurious") if spurious else "clean"
    return {"dataset": dataset, "spurious": spurious, "arm": arm, "data_seed": data_seed, "train_seed": train_seed,
            "name": f"{dataset}-{cue}-{slug}-d{data_seed}-t{train_seed}", "config": cfg}


def grid(quick: bool, data_seeds: list[int], train_seeds: list[int]) -> list[dict]:
    """Every (phantom, cue, arm) cell x the star design of :func:`core.fewshot.runner.seed_pairs`."""
    sizes = QUICK if quick else FULL
    arms = QUICK_ARMS if quick else tuple(ARMS)
    return [make_run(dataset, spurious, arm, ARMS[arm], d, t, sizes)
            for dataset in DATASETS for spurious in (False, True) for arm in arms
            for d, t in seed_pairs(data_seeds, train_seeds)]


def aggregate(runs: list[dict], results: list[dict]) -> list[dict]:
    """One row per (phantom, cue, arm): pooled test episodes, spread over data and training seeds."""
    return pool_cells(runs, results)


def _pct(spread: dict) -> str:
    return "/".join(f"{100 * v:.0f}" for v in spread["values"]) + f" (sd {100 * spread['sd']:.1f})"


def markdown_table(rows: list[dict]) -> str:
    head = ("| Phantom | Spurious cue | Training | Accuracy % (95% CI) | same-patient episodes % | "
            "by data seed % | by training seed % | CAM-ROI Dice, log-prob target (95% CI) | Energy in ROI | "
            "Pointing | train s / episode* |\n|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        acc, dice = r["accuracy"], r["cam_dice"]
        same = r.get("accuracy_same_patient")
        same_text = f"{100 * same['mean']:.1f}" if same else "–"
        lines.append(f"| {r['dataset'].replace('-phantom', '')} | {'yes' if r['spurious'] else 'no'} | {r['arm']} | "
                     f"{100 * acc['mean']:.1f} ± {100 * acc['ci95']:.1f} | "
                     f"{same_text} | "
                     f"{_pct(r['by_data_seed'])} | {_pct(r['by_train_seed'])} | "
                     f"{dice['mean']:.3f} ± {dice['ci95']:.3f} | {r['cam_energy']:.3f} | "
                     f"{r['cam_pointing']:.2f} | {r['train_seconds_per_episode']:.3f} |")
    return "\n".join(lines)


def _figure(rows: list[dict], path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Test accuracy (%)", "CAM-ROI soft Dice"))
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    for arm in arms:
        sel = [r for r in rows if r["arm"] == arm]
        xs = [f"{r['dataset'].replace('-phantom', '')}/{'cue' if r['spurious'] else 'clean'}" for r in sel]
        fig.add_trace(go.Bar(name=arm, x=xs, y=[100 * r["accuracy"]["mean"] for r in sel], legendgroup=arm,
                             error_y={"type": "data", "array": [100 * r["accuracy"]["ci95"] for r in sel]}), 1, 1)
        fig.add_trace(go.Bar(name=arm, x=xs, y=[r["cam_dice"]["mean"] for r in sel], legendgroup=arm, showlegend=False,
                             error_y={"type": "data", "array": [r["cam_dice"]["ci95"] for r in sel]}), 1, 2)
    fig.update_layout(barmode="group", title="Expert-guided few-shot learning on phantoms (synthetic, not clinical data)")
    # Inline plotly.js: the report must open on an offline machine.
    with atomic_path(path) as tmp:
        fig.write_html(str(tmp), include_plotlyjs=True)


def gallery(run_dir: Path, out: Path, runs: list[dict], dataset: str = "brain-phantom", n_images: int = 6,
            seed: int = 0) -> Path:
    """PNG rows of [image, ROI, unguided CAM, guided CAM] for spurious-cue test images.

    Uses the first seed pair's unguided and :data:`GALLERY_ARM` runs of ``runs``.
    """
    import cv2
    import torch

    from core.explain import GradCAM
    from core.fewshot.checkpoint import load_checkpoint
    from core.fewshot.distances import pairwise_distance
    from core.fewshot.experiment import load_split

    arms = ["unguided", GALLERY_ARM]
    first = (runs[0]["data_seed"], runs[0]["train_seed"])
    runs = {r["arm"]: r for r in runs if r["dataset"] == dataset and r["spurious"] and r["arm"] in arms
            and (r["data_seed"], r["train_seed"]) == first}
    _, test = load_split(runs[arms[0]]["config"])
    rng = np.random.default_rng(seed)
    pick = []
    for c in range(len(test.class_names)):
        rows = np.flatnonzero(test.labels.numpy() == c)
        pick += rng.choice(rows, size=max(1, n_images // len(test.class_names)), replace=False).tolist()
    x = test.images[pick]
    cams = []
    for arm in arms:
        model, payload = load_checkpoint(run_dir / runs[arm]["name"] / "checkpoint.pt")
        protos = payload["prototypes"]
        labels = test.labels[pick]
        with GradCAM(model, model.cam_layer) as cam:
            maps = cam(x, lambda z: torch.log_softmax(-pairwise_distance(z, protos, model.metric), 1)
                       .gather(1, labels[:, None]).squeeze(1))
        cams.append(maps.detach().numpy())
    scale = 2
    tiles = []
    for i in range(len(pick)):
        grey = (x[i].mean(0).numpy() * 255).astype(np.uint8)
        base = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        roi = base.copy()
        contours, _ = cv2.findContours(test.masks[pick[i]].numpy().astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(roi, contours, -1, (0, 255, 0), 1)
        row = [base, roi]
        for m in cams:
            heat = cv2.applyColorMap((m[i] * 255).astype(np.uint8), cv2.COLORMAP_JET)
            over = cv2.addWeighted(base, 0.5, heat, 0.5, 0)
            cv2.drawContours(over, contours, -1, (255, 255, 255), 1)
            row.append(over)
        tiles.append(np.concatenate(row, 1))
    img = np.concatenate(tiles, 0)
    img = cv2.resize(img, (img.shape[1] * scale, img.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
    header = np.full((28, img.shape[1], 3), 255, np.uint8)
    w = img.shape[1] // 4
    for k, text in enumerate(["image", "expert ROI", "unguided CAM", "guided CAM"]):
        cv2.putText(header, text, (k * w + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    img = np.concatenate([header, img], 0)
    from PIL import Image

    # A 256-colour palette keeps the committed PNG small; overlays stay readable.
    with atomic_path(out) as tmp:
        Image.fromarray(img[..., ::-1].copy()).quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(
            tmp, format="PNG", optimize=True)
    return out


def reproduce_fewshot(out: Path, quick: bool = False, data_seeds: list[int] | None = None,
                      train_seeds: list[int] | None = None, workers: int = 2, threads: int = 1,
                      progress: ProgressCallback | None = None, explanation_checks: bool = True) -> dict:
    """Run the grid (``workers`` processes of ``threads`` torch threads), write the summary files, return it.

    Checkpoints and per-run metrics stay in ``out/runs/`` (git-ignored) for later analyses.
    ``explanation_checks`` adds, per run, the independent-explainer alignment,
    randomisation and deletion/insertion checks (:mod:`core.fewshot.explanation_checks`).
    """
    from core.fewshot.explanation_checks import FULL_CHECKS, QUICK_CHECKS

    data_seeds = list(data_seeds) if data_seeds else ([0] if quick else [0, 1, 2])
    train_seeds = list(train_seeds) if train_seeds else ([0] if quick else [0, 1, 2])
    runs = grid(quick, data_seeds, train_seeds)
    checks = (QUICK_CHECKS if quick else FULL_CHECKS) if explanation_checks else None
    run_dir = out / "runs"
    start = time.perf_counter()
    results = run_grid(runs, run_dir, workers, threads, progress, checks)
    rows = aggregate(runs, results)
    table = markdown_table(rows)
    sizes = QUICK if quick else FULL
    pairs = seed_pairs(data_seeds, train_seeds)
    summary = {
        "synthetic_data": True,
        "quick": quick,
        "data_seeds": data_seeds,
        "train_seeds": train_seeds,
        "seed_pairs": pairs,
        "eval_seed": runs[0]["config"].eval_seed,
        "patient_disjoint_eval": True,
        "alpha": ALPHA,
        "sizes": asdict(sizes),
        "wall_seconds": time.perf_counter() - start,
        "arms": {k: {**v, "alpha": ALPHA, "cam_norm": "minmax"} for k, v in ARMS.items()},
        "rows": rows,
        "runs": [{"name": r["name"], "dataset": r["dataset"], "spurious": r["spurious"], "arm": r["arm"],
                  "data_seed": r["data_seed"], "train_seed": r["train_seed"], "accuracy": res["accuracy"],
                  "accuracy_same_patient": res.get("same_patient", {}).get("accuracy"),
                  "alignment_by_score": res["alignment_by_score"], "train_seconds": res["train_seconds"],
                  "checkpoint": f"runs/{r['name']}/checkpoint.pt"} for r, res in zip(runs, results)],
    }
    section = ""
    if checks is not None:
        from core.fewshot.explanation_report import explanation_section

        section, summary["explanation_checks"] = explanation_section(runs, results, checks)  # type: ignore[arg-type]
    write_json(out / "results.json", summary)
    note = ("Phantoms are synthetic, NOT clinical data. Accuracy: mean ± 95% CI over all test episodes of all runs "
            f"({sizes.eval_episodes} per run, held-out patients only, support and query of every episode from "
            "different patients); 'same-patient episodes': the same models evaluated on episodes that may draw "
            "support and query from one patient (the protocol before issue 13). "
            f"Runs: (data seed, training seed) pairs {pairs}; 'by data seed' lists the accuracy of each data seed "
            f"with training seed {train_seeds[0]}, 'by training seed' each training seed with data seed "
            f"{data_seeds[0]}. CAM-ROI Dice: Grad-CAM with the log-probability target, {sizes.cam_episodes} test "
            f"episodes per run. alpha = {ALPHA}, min-max CAMs. "
            "*Wall time per training episode on a shared machine (one core per run): indicative only; "
            "see benchmarks/bench_fewshot.py for the controlled guided/unguided cost ratio.")
    md = f"# Few-shot reproduction ({'quick' if quick else 'full'})\n\n{note}\n\n{table}\n"
    md += f"\n{section}\n" if section else ""
    write_text_atomic(out / "results.md", md)
    _figure(rows, out / "figure.html")
    gallery(run_dir, out / "gallery.png", runs, seed=data_seeds[0])
    summary["markdown"] = md
    return summary
