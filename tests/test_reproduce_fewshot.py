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
        for a in ("unguided", "guided (log-prob target)")}
    for r in rows:
        assert 0.0 <= r["accuracy"]["mean"] <= 1.0 and r["accuracy"]["ci95"] > 0
        assert r["accuracy"]["n"] == summary["sizes"]["eval_episodes"] * len(summary["seeds"])
        assert 0.0 <= r["cam_dice"]["mean"] <= 1.0
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
