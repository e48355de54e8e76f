"""``python -m core reproduce fewshot --quick`` end to end, and the CLI's error path."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import run_cli

# Subprocess runs of tiny models: one OpenMP thread (the suite-wide _one_cpu_thread fixture in conftest.py explains why).
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_reproduce_fewshot_quick(tmp_path, workspace):
    out = tmp_path / "repro"
    proc = run_cli("--workspace", str(workspace.root), "reproduce", "fewshot", "--quick", "--out", str(out),
                   env=ONE_THREAD)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "results.json").read_text())
    assert summary["synthetic_data"] is True and summary["quick"] is True
    rows = summary["rows"]
    # both phantoms x with/without cue x {unguided, guided}
    assert {(r["dataset"], r["spurious"], r["arm"]) for r in rows} == {
        (d, s, a) for d in ("brain-phantom", "cxr-phantom") for s in (False, True)
        for a in ("unguided", "guided (log-prob, 1st order)")}
    for r in rows:
        assert 0.0 <= r["accuracy"]["mean"] <= 1.0 and r["accuracy"]["ci95"] > 0
        assert r["accuracy"]["n"] == summary["sizes"]["eval_episodes"] * len(summary["seed_pairs"])
        assert r["accuracy_same_patient"]["n"] == r["accuracy"]["n"]
        assert 0.0 <= r["cam_dice"]["mean"] <= 1.0 and r["alignment_target"] == "log_prob"
    assert summary["patient_disjoint_eval"] is True
    # Every run's checkpoint is kept for later analyses, in a folder git ignores.
    assert (out / "runs" / ".gitignore").read_text().splitlines()[-1] == "*"
    from core.fewshot import load_checkpoint

    for run in summary["runs"]:
        _, payload = load_checkpoint(out / run["checkpoint"])
        assert (payload["extra"]["data_seed"], payload["extra"]["train_seed"]) == (run["data_seed"], run["train_seed"])
    md = (out / "results.md").read_text()
    main_table, checks_section = md.split("## Explanations checked independently")
    assert "NOT clinical data" in md and main_table.count("\n|") == len(rows) + 2
    # Independent explainers on the same test episodes: every (cell, explainer) row, and paired guided gains.
    checks = summary["explanation_checks"]
    cells = {(r["dataset"], r["spurious"], r["arm"]) for r in rows}
    assert {(r["dataset"], r["spurious"], r["arm"], r["explainer"]) for r in checks["rows"]} == {
        (*c, e) for c in cells for e in ("gradcam", "gradcam++", "occlusion", "integrated_gradients")}
    for r in checks["rows"]:
        assert 0.0 <= r["dice"]["mean"] <= 1.0 and len(r["spearman_per_layer"]) == len(r["randomisation_layers"])
        assert 0.0 <= r["deletion_auc"]["mean"] <= 1.0 and 0.0 <= r["insertion_random_auc"]["mean"] <= 1.0
    assert len(checks["gains"]) == 4 * 4  # 4 data cells x 4 explainers, guided minus unguided
    assert checks_section.count("\n| brain") + checks_section.count("\n| cxr") == len(checks["rows"]) + 16
    html = (out / "figure.html").read_text()
    assert "plotly-graph-div" in html
    # plotly.js is inlined so the report opens offline: no script is fetched from the network.
    assert not re.search(r"<script[^>]*\bsrc=[\"']https?:", html)
    assert (out / "gallery.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_star_design_and_pooling_report_each_seed_spread_separately():
    from core.fewshot.runner import pool_cells, seed_pairs

    pairs = seed_pairs([0, 1, 2], [0, 5, 6])
    assert pairs == [(0, 0), (1, 0), (2, 0), (0, 5), (0, 6)]
    acc = {(0, 0): 0.5, (1, 0): 0.6, (2, 0): 0.9, (0, 5): 0.4, (0, 6): 0.3}
    runs = [{"dataset": "d", "spurious": True, "arm": "a", "data_seed": d, "train_seed": t} for d, t in pairs]
    stat = {"mean": 0.5, "std": 0.1, "n": 4, "ci95": 0.1}
    results = [{"accuracy": {"mean": acc[p]}, "episode_accuracy": [acc[p]] * 4, "train_seconds": 1.0,
                "config": {"train": {"episodes": 10}},
                "alignment_by_score": {s: {m: stat for m in ("dice", "energy", "pointing", "iou")}
                                       for s in ("log_prob", "distance")}}
               for p in pairs]
    (row,) = pool_cells(runs, results)
    assert row["by_data_seed"]["values"] == [0.5, 0.6, 0.9]
    assert row["by_train_seed"]["values"] == [0.5, 0.4, 0.3]
    assert row["accuracy"]["n"] == 20 and row["accuracy"]["mean"] == pytest.approx(sum(acc.values()) / 5)
    assert row["cam_dice"]["n"] == 20 and row["cam_dice"]["mean"] == pytest.approx(0.5)
    assert row["cam_energy"] == pytest.approx(0.5) and row["cam_energy_ci"]["n"] == 20


def test_the_recommended_arm_trains_with_the_library_defaults():
    from core.fewshot import TrainConfig
    from core.fewshot.reproduction import ARMS, FULL, RECOMMENDED_ARM, make_run

    run = make_run("brain-phantom", True, RECOMMENDED_ARM, ARMS[RECOMMENDED_ARM], 0, 0, FULL)
    assert run["config"].train == TrainConfig(episodes=FULL.episodes)


@pytest.mark.slow
def test_normalisation_study_quick(tmp_path):
    from core.fewshot.normalisation_study import REFERENCE, normalisation_study

    summary = normalisation_study(tmp_path / "norm", quick=True, workers=1)
    arms = {r["arm"] for r in summary["rows"]}
    assert REFERENCE in arms and "unguided" in arms and len(summary["rows"]) == 4 * len(arms)
    for d in summary["differences"]:
        if d["arm"] == REFERENCE:
            assert d["mean"] == 0.0 and d["per_seed"] == [0.0]
    md = (tmp_path / "norm" / "results.md").read_text()
    assert "NOT clinical data" in md and md.count("\n|") == len(summary["rows"]) + 2


def test_fewshot_cli_bad_input_is_one_line_error(workspace):
    proc = run_cli("--workspace", str(workspace.root), "fewshot", "--dataset", "vindr", env=ONE_THREAD)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: --data-root is required for the vindr dataset"]
    proc = run_cli("--workspace", str(workspace.root), "fewshot", "--shot", "40", "--episodes", "1",
                   env=ONE_THREAD)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "need 3 classes with at least 45 images" in proc.stderr


@pytest.mark.slow
def test_fewshot_cli_writes_checkpoint_and_metrics(tmp_path, workspace):
    out = tmp_path / "run"
    proc = run_cli("--workspace", str(workspace.root), "fewshot", "--dataset", "cxr-phantom", "--patients", "12",
                   "--slices", "4", "--size", "32", "--hidden", "8", "--embed-dim", "8", "--episodes", "3",
                   "--shot", "2", "--query", "2", "--eval-episodes", "10", "--cam-episodes", "2",
                   "--spurious", "--first-order", "--out", str(out), env=ONE_THREAD)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"]["n"] == 10 and metrics["config"]["train"]["first_order"] is True
    assert metrics["data"]["synthetic"] is True
    assert (out / "checkpoint.pt").is_file()
    assert "accuracy" in proc.stdout
