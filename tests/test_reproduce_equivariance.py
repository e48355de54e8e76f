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
        for kind in ("worst", "fgsm", "pgd", "rotation", "scale"):
            assert len(m[kind]["stats"]) == len(m[kind]["x"]) and len(m[kind]["per_seed"]) == len(seeds)
            assert all(s["n"] == len(seeds) for s in m[kind]["stats"])
        # ε = 0 of every attack curve is the clean accuracy of the same images
        for kind in ("worst", "fgsm", "pgd"):
            assert m[kind]["stats"][0]["mean"] == pytest.approx(m["clean_acc"]["mean"])
        # The worst case is per image over every attack: never above any of them, at any ε and seed.
        worst = m["worst"]["per_seed"]
        for kind in ("fgsm", "pgd"):
            assert all(w <= a + 1e-12 for rw, ra in zip(worst, m[kind]["per_seed"]) for w, a in zip(rw, ra))
        assert set(m["masking_checks"]) == {"large_eps", "budget_ladder", "black_box", "transfer", "zero_gradient"}
        assert all(c["pass"] + c["fail"] + c["skipped"] == len(seeds) for c in m["masking_checks"].values())
        assert m["masking_checks"]["transfer"]["skipped"] == 0  # a surrogate was trained for every seed
        cvm = m["clever_vs_minimal"]
        assert cvm["n_images"] == len(seeds) * summary["settings"]["clever_images"]
        assert all(p["minimal"] is None or 0 < p["minimal"] <= summary["settings"]["clever_radius"] + 1e-9
                   for p in cvm["pairs"])
        if arch == "baseline":
            assert "paired_vs_baseline" not in m
        else:
            # Paired differences: the mean difference equals the difference of the means (same seeds).
            diff = m["paired_vs_baseline"]["worst"][-1]["mean"]
            base = summary["models"]["baseline"]["worst"]["stats"][-1]["mean"]
            assert diff == pytest.approx(m["worst"]["stats"][-1]["mean"] - base)
        assert m["standard_check"]["seeds"] == [0] and m["standard_check"]["eps"] == [16 / 255]
        sev = summary["settings"]["severities"]
        assert all(set(row) == {str(s) for s in sev} for row in m["corruption_table"].values())
        assert 0 < m["clever_l2"]["mean"] <= summary["settings"]["clever_radius"]
    md = (out / "equivariance.md").read_text()
    assert all(f"| {a} |" in md for a in ARCHS) and "95% t-interval" in md
    assert "**Worst case**" in md and "Paired differences to the baseline" in md and "(weak)" in md
    html = (out / "figures.html").read_text()
    assert html.count("plotly-graph-div") >= 5
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
    surrogate = out / "checkpoints" / "baseline-s1" / "model.pt"
    res = run_cli("--workspace", str(ws), "attack", "--checkpoint", str(ckpt), "--attack", "pgd",
                  "--eps", "0,4/255,16/255", "--steps", "2", "--version", "fast", "--ensemble-steps", "10",
                  "--ensemble-queries", "100", "--n-images", "24",
                  "--seeds", "0,1", "--surrogate", str(surrogate), "--drift", "--out", str(report))
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads(report.read_text())
    assert data["curve"]["x"] == pytest.approx([0, 4 / 255, 16 / 255])
    assert len(data["curve"]["per_seed"]) == 2
    assert data["curve"]["mean"][0] == pytest.approx(data["clean_accuracy"])
    assert "dice_distance_mean" in data["drift"]
    # The headline is the worst case; the requested PGD-2 and the weak references are never above it.
    for other in (data["attack"], data["weak"]["pgd-10"], data["weak"]["fgsm"]):
        assert all(h <= o + 1e-12 for h, o in zip(data["curve"]["mean"], other["mean"]))
    assert [c["name"] for c in data["masking_checks"]] == ["large_eps", "budget_ladder", "black_box", "transfer",
                                                           "zero_gradient"]
    assert all(c["status"] in ("pass", "FAIL") for c in data["masking_checks"])
    assert "masking check transfer" in res.stdout and "weak, for comparison with the paper only" in res.stdout
    cl = tmp_path / "clever.json"
    res = run_cli("--workspace", str(ws), "clever", "--checkpoint", str(ckpt), "--n-images", "2",
                  "--nb-batch", "4", "--batch-size", "8", "--norm", "inf", "--radius", "8/255", "--out", str(cl))
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads(cl.read_text())
    assert len(data["images"]) == 2 and all(0 < im["score"] <= 8 / 255 + 1e-12 for im in data["images"])
    assert data["clever_vs_minimal"]["n_images"] == 2 and "CLEVER exceeds" in res.stdout


@pytest.mark.parametrize("argv,message", [
    (["attack", "--checkpoint", "missing.pt", "--out", "x.json"], "checkpoint not found"),
    (["attack", "--checkpoint", "missing.pt", "--eps", "8/0", "--out", "x.json"], "eps"),
    (["attack", "--checkpoint", "missing.pt", "--attack", "fgsm", "--norm", "2", "--out", "x.json"], "L-inf"),
    (["attack", "--checkpoint", "missing.pt", "--eps", "8", "--out", "x.json"], "must lie in [0, 1]"),
    (["attack", "--checkpoint", "missing.pt", "--attack", "cw", "--out", "x.json"], "invalid choice"),
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
