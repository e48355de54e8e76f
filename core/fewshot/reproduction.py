"""The few-shot reproduction grid, its aggregation and its figures (see ``reproduce fewshot``)."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
import multiprocessing as mp

import numpy as np

from core.atomic import atomic_path, write_text_atomic
from core.fewshot.experiment import RunConfig, run_fewshot, write_json
from core.fewshot.stats import mean_ci
from core.fewshot.train import TrainConfig
from core.progress import ProgressCallback, ProgressEvent

__all__ = ["ARMS", "Sizes", "reproduce_fewshot", "grid", "aggregate", "markdown_table"]

#: arm name -> (guidance, cam score, first order)
ARMS = {
    "unguided": ("none", "log_prob", False),
    "guided (paper target)": ("dice", "distance", False),
    "guided (log-prob target)": ("dice", "log_prob", False),
    "guided (log-prob, 1st order)": ("dice", "log_prob", True),
}
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


FULL = Sizes(patients=48, slices=4, size=64, hidden=32, embed_dim=64, episodes=150, eval_episodes=300, cam_episodes=40)
QUICK = Sizes(patients=24, slices=3, size=48, hidden=8, embed_dim=16, episodes=12, eval_episodes=40, cam_episodes=3)


def grid(quick: bool, seeds: list[int]) -> list[dict]:
    """One dict per run: dataset, spurious, arm, seed, config."""
    sizes = QUICK if quick else FULL
    arms = ["unguided", "guided (log-prob target)"] if quick else list(ARMS)
    runs = []
    for dataset in DATASETS:
        for spurious in (False, True):
            for arm in arms:
                if arm == "guided (log-prob, 1st order)" and not spurious:
                    continue
                guidance, score, first = ARMS[arm]
                for seed in seeds:
                    train = TrainConfig(episodes=sizes.episodes, alpha=ALPHA, guidance=guidance, cam_score=score,
                                        first_order=first, seed=seed)
                    cfg = RunConfig(dataset=dataset, hidden=sizes.hidden, embed_dim=sizes.embed_dim, spurious=spurious,
                                    patients=sizes.patients, slices=sizes.slices, size=sizes.size,
                                    eval_episodes=sizes.eval_episodes, cam_episodes=sizes.cam_episodes, train=train)
                    runs.append({"dataset": dataset, "spurious": spurious, "arm": arm, "seed": seed, "config": cfg})
    return runs


def _run_name(run: dict) -> str:
    arm = run["arm"].replace(" ", "_").replace("(", "").replace(")", "").replace(",", "")
    return f"{run['dataset']}-{'spurious' if run['spurious'] else 'clean'}-{arm}-seed{run['seed']}"


def _worker(run: dict, out_dir: str, checks=None) -> dict:
    import torch

    # Each worker gets one core; two workers fill the machine without oversubscription.
    torch.set_num_threads(1)
    start = time.perf_counter()
    result = run_fewshot(run["config"], Path(out_dir) / _run_name(run))
    result["wall_seconds"] = time.perf_counter() - start
    if checks is not None:  # CheckSizes: explainers the guidance never saw, on the same test episodes
        from core.fewshot.explanation_checks import check_run

        result["explanation_checks"] = check_run(run["config"], Path(out_dir) / _run_name(run), checks)
    return result


def aggregate(runs: list[dict], results: list[dict]) -> list[dict]:
    """Pool the test episodes of all seeds of one (dataset, cue, arm) cell."""
    cells: dict[tuple, dict] = {}
    for run, res in zip(runs, results):
        key = (run["dataset"], run["spurious"], run["arm"])
        cell = cells.setdefault(key, {"acc": [], "dice": [], "energy": [], "pointing": [], "iou": [],
                                      "dice_paper_target": [], "seed_acc": [], "sec_per_episode": []})
        cell["acc"] += res["episode_accuracy"]
        cell["seed_acc"].append(res["accuracy"]["mean"])
        cell["sec_per_episode"].append(res["train_seconds"] / res["config"]["train"]["episodes"])
        by = res["alignment_by_score"]
        cell["dice"].append(by["log_prob"]["dice"]["mean"])
        cell["energy"].append(by["log_prob"]["energy"]["mean"])
        cell["pointing"].append(by["log_prob"]["pointing"]["mean"])
        cell["iou"].append(by["log_prob"]["iou"]["mean"])
        cell["dice_paper_target"].append(by["distance"]["dice"]["mean"])
        cell.setdefault("_dice_episodes", []).append(by["log_prob"]["dice"])
    rows = []
    for (dataset, spurious, arm), cell in cells.items():
        # Alignment CI: pool per-seed episode statistics (same n per seed).
        stats = cell.pop("_dice_episodes")
        n = sum(s["n"] for s in stats)
        mean = float(np.mean([s["mean"] for s in stats]))
        var = sum((s["n"] - 1) * s["std"] ** 2 + s["n"] * (s["mean"] - mean) ** 2 for s in stats) / max(1, n - 1)
        rows.append({
            "dataset": dataset, "spurious": spurious, "arm": arm, "seeds": len(cell["seed_acc"]),
            "accuracy": mean_ci(cell["acc"]),
            "accuracy_per_seed": cell["seed_acc"],
            "cam_dice": {"mean": mean, "ci95": 1.96 * float(np.sqrt(var / n)) if n > 1 else 0.0, "n": n},
            "cam_dice_paper_target": float(np.mean(cell["dice_paper_target"])),
            "cam_energy": float(np.mean(cell["energy"])),
            "cam_pointing": float(np.mean(cell["pointing"])),
            "cam_iou": float(np.mean(cell["iou"])),
            "train_seconds_per_episode": float(np.mean(cell["sec_per_episode"])),
        })
    return rows


def markdown_table(rows: list[dict]) -> str:
    head = ("| Phantom | Spurious cue | Training | Accuracy % (95% CI) | CAM-ROI Dice (95% CI) | "
            "Energy in ROI | Pointing | train s / episode* |\n|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        acc, dice = r["accuracy"], r["cam_dice"]
        lines.append(f"| {r['dataset'].replace('-phantom', '')} | {'yes' if r['spurious'] else 'no'} | {r['arm']} | "
                     f"{100 * acc['mean']:.1f} ± {100 * acc['ci95']:.1f} | {dice['mean']:.3f} ± {dice['ci95']:.3f} | "
                     f"{r['cam_energy']:.3f} | {r['cam_pointing']:.2f} | {r['train_seconds_per_episode']:.3f} |")
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


def gallery(run_dir: Path, out: Path, dataset: str = "brain-phantom", n_images: int = 6, seed: int = 0,
            quick: bool = False) -> Path:
    """PNG rows of [image, ROI, unguided CAM, guided CAM] for spurious-cue test images."""
    import cv2
    import torch

    from core.explain import GradCAM
    from core.fewshot.checkpoint import load_checkpoint
    from core.fewshot.distances import pairwise_distance
    from core.fewshot.experiment import load_split

    runs = {r["arm"]: r for r in grid(quick, [seed]) if r["dataset"] == dataset and r["spurious"]}
    arms = ["unguided", "guided (log-prob target)"]
    _, test = load_split(runs[arms[0]]["config"])
    rng = np.random.default_rng(seed)
    pick = []
    for c in range(len(test.class_names)):
        rows = np.flatnonzero(test.labels.numpy() == c)
        pick += rng.choice(rows, size=max(1, n_images // len(test.class_names)), replace=False).tolist()
    x = test.images[pick]
    cams = []
    for arm in arms:
        model, payload = load_checkpoint(run_dir / _run_name(runs[arm]) / "checkpoint.pt")
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


def reproduce_fewshot(out: Path, quick: bool = False, seeds: list[int] | None = None, workers: int = 2,
                      progress: ProgressCallback | None = None, explanation_checks: bool = True) -> dict:
    """Run the grid (in ``workers`` processes), write the summary files, return the summary.

    ``explanation_checks`` adds, per run, the independent-explainer alignment,
    randomisation and deletion/insertion checks (:mod:`core.fewshot.explanation_checks`).
    """
    from core.fewshot.explanation_checks import FULL_CHECKS, QUICK_CHECKS

    seeds = list(seeds) if seeds else ([0] if quick else [0, 1, 2])
    runs = grid(quick, seeds)
    checks = (QUICK_CHECKS if quick else FULL_CHECKS) if explanation_checks else None
    run_dir = out / "runs"
    results: list[dict | None] = [None] * len(runs)
    start = time.perf_counter()
    done = 0
    if workers == 1:
        for i, run in enumerate(runs):
            results[i] = _worker(run, str(run_dir), checks)
            done += 1
            if progress is not None:
                progress(ProgressEvent("reproduce", done, len(runs), message=_run_name(run)))
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(_worker, run, str(run_dir), checks): i for i, run in enumerate(runs)}
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                done += 1
                if progress is not None:
                    progress(ProgressEvent("reproduce", done, len(runs), message=_run_name(runs[i]),
                                           metrics={"acc": results[i]["accuracy"]["mean"]}))
    rows = aggregate(runs, results)  # type: ignore[arg-type]
    table = markdown_table(rows)
    sizes = QUICK if quick else FULL
    summary = {
        "synthetic_data": True,
        "quick": quick,
        "seeds": seeds,
        "alpha": ALPHA,
        "sizes": asdict(sizes),
        "wall_seconds": time.perf_counter() - start,
        "arms": {k: {"guidance": g, "cam_score": s, "first_order": f} for k, (g, s, f) in ARMS.items()},
        "rows": rows,
        "runs": [{"name": _run_name(r), "dataset": r["dataset"], "spurious": r["spurious"], "arm": r["arm"],
                  "seed": r["seed"], "accuracy": res["accuracy"], "alignment_by_score": res["alignment_by_score"],
                  "train_seconds": res["train_seconds"]} for r, res in zip(runs, results)],
    }
    section = ""
    if checks is not None:
        from core.fewshot.explanation_report import explanation_section

        section, summary["explanation_checks"] = explanation_section(runs, results, checks)  # type: ignore[arg-type]
    write_json(out / "results.json", summary)
    note = ("Phantoms are synthetic, NOT clinical data. Accuracy: mean ± 95% CI over all test episodes of all seeds "
            f"({sizes.eval_episodes} per seed, held-out patients only). CAM-ROI Dice: Grad-CAM with the log-probability "
            f"target, {sizes.cam_episodes} test episodes per seed. alpha = {ALPHA}, seeds {seeds}. "
            "*Wall time per training episode on a shared machine (one core per run): indicative only; "
            "see benchmarks/bench_fewshot.py for the controlled guided/unguided cost ratio.")
    md = f"# Few-shot reproduction ({'quick' if quick else 'full'})\n\n{note}\n\n{table}\n"
    md += f"\n{section}\n" if section else ""
    write_text_atomic(out / "results.md", md)
    _figure(rows, out / "figure.html")
    gallery(run_dir, out / "gallery.png", seed=seeds[0], quick=quick)
    summary["markdown"] = md
    return summary
