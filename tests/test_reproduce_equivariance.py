"""``reproduce equivariance --quick`` end to end, plus the attack/clever commands on its checkpoints."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import run_cli

ARCHS = ["baseline", "parallel_rot", "parallel_scale", "parallel_rot_scale", "cascaded", "equivariant"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("equivariance")
    ws = tmp_path_factory.mktemp("ws")
    proc = run_cli("--workspace", str(ws), "reproduce", "equivariance", "--quick", "--threads", "1", "--out", str(out))
    return proc, out, ws


@pytest.mark.slow
def test_quick_reproduction_writes_all_outputs(quick_run):
    proc, out, _ = quick_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "equivariance.json").read_text())
    assert list(summary["models"]) == ARCHS
    seeds = summary["settings"]["seeds"]
    assert len(seeds) >= 2
    for arch, m in summary["models"].items():
        assert m["seeds"] == seeds
        for kind in ("fgsm", "pgd", "rotation", "scale"):
            assert len(m[kind]["stats"]) == len(m[kind]["x"]) and len(m[kind]["per_seed"]) == len(seeds)
            assert all(s["n"] == len(seeds) for s in m[kind]["stats"])
        # ε = 0 of both attack curves is the clean accuracy of the same images
        assert m["fgsm"]["stats"][0]["mean"] == pytest.approx(m["clean_acc"]["mean"])
        assert m["pgd"]["stats"][0]["mean"] == pytest.approx(m["clean_acc"]["mean"])
        assert m["pgd"]["stats"][-1]["mean"] <= m["fgsm"]["stats"][0]["mean"]
        sev = summary["settings"]["severities"]
        assert all(set(row) == {str(s) for s in sev} for row in m["corruption_table"].values())
        assert 0 < m["clever_l2"]["mean"] <= summary["settings"]["clever_radius"]
    md = (out / "equivariance.md").read_text()
    assert all(f"| {a} |" in md for a in ARCHS) and "95% t-interval" in md
    html = (out / "figures.html").read_text()
    assert html.count("plotly-graph-div") >= 4
    assert not re.search(r"<script[^>]*\bsrc=[\"']https?:", html)  # opens offline
    assert len(list((out / "runs").glob("*.json"))) == len(ARCHS) * len(seeds)


@pytest.mark.slow
def test_rerun_resumes_from_cached_runs(quick_run):
    proc, out, ws = quick_run
    assert proc.returncode == 0
    before = (out / "equivariance.json").read_text()
    again = run_cli("--workspace", str(ws), "reproduce", "equivariance", "--quick", "--threads", "1", "--out", str(out))
    assert again.returncode == 0, again.stderr[-2000:]
    after = json.loads((out / "equivariance.json").read_text())
    assert after["models"] == json.loads(before)["models"]
    assert after["wall_seconds"] < 30  # nothing retrained


@pytest.mark.slow
def test_attack_and_clever_commands_on_a_reproduction_checkpoint(quick_run, tmp_path):
    proc, out, ws = quick_run
    ckpt = out / "checkpoints" / "baseline-s0" / "model.pt"
    report = tmp_path / "attack.json"
    res = run_cli("--workspace", str(ws), "attack", "--checkpoint", str(ckpt), "--attack", "pgd",
                  "--eps", "0,4/255,16/255", "--steps", "2", "--n-images", "24", "--seeds", "0,1",
                  "--drift", "--out", str(report))
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads(report.read_text())
    assert data["curve"]["x"] == pytest.approx([0, 4 / 255, 16 / 255])
    assert len(data["curve"]["per_seed"]) == 2
    assert data["curve"]["mean"][0] == pytest.approx(data["clean_accuracy"])
    assert "dice_distance_mean" in data["drift"]
    cl = tmp_path / "clever.json"
    res = run_cli("--workspace", str(ws), "clever", "--checkpoint", str(ckpt), "--n-images", "2",
                  "--nb-batch", "4", "--batch-size", "8", "--norm", "inf", "--radius", "8/255", "--out", str(cl))
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads(cl.read_text())
    assert len(data["images"]) == 2 and all(0 < im["score"] <= 8 / 255 + 1e-12 for im in data["images"])


@pytest.mark.parametrize("argv,message", [
    (["attack", "--checkpoint", "missing.pt", "--out", "x.json"], "checkpoint not found"),
    (["attack", "--checkpoint", "missing.pt", "--eps", "8/0", "--out", "x.json"], "eps"),
    (["attack", "--checkpoint", "missing.pt", "--attack", "fgsm", "--norm", "2", "--out", "x.json"], "L-inf"),
    (["clever", "--checkpoint", "missing.pt", "--radius", "-1", "--out", "x.json"], "radius"),
    (["reproduce", "equivariance", "--archs", "resnet", "--out", "x"], "unknown architecture"),
    (["reproduce", "equivariance", "--dataset", "cifar10", "--out", "x"], "--data-root"),
])
def test_bad_options_give_one_line_errors(argv, message, tmp_path):
    res = run_cli("--workspace", str(tmp_path / "ws"), *argv, cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert not (tmp_path / "x.json").exists()
