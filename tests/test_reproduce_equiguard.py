"""``reproduce equiguard``: the design, same-seed pairing, the resume cache, the quick run and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import run_cli

ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def test_grid_pairs_every_condition_by_seed():
    from core.reproduce.equiguard_design import CONDITIONS, CUES, DATASETS, QUICK, grid

    runs = grid(QUICK, [3, 5])
    assert len(runs) == len(DATASETS) * len(CUES) * len(CONDITIONS) * 2 == 80
    assert len({r["name"] for r in runs}) == len(runs)
    assert {(r["backbone"], r["training"]) for r in runs} == {
        ("conv4", "unguided"), ("conv4", "dice"), ("equivariant", "unguided"), ("equivariant", "dice"),
        ("conv4", "rrr")}
    for r in runs:
        cfg = r["config"]
        # Same seed -> same patients (data seed), same initialisation seed and the same test episodes.
        assert cfg.data_seed == cfg.train.seed == r["seed"] and cfg.eval_seed == runs[0]["config"].eval_seed
        assert cfg.backbone == r["backbone"] and cfg.train.guidance == {"unguided": "none"}.get(r["training"],
                                                                                                  r["training"])
        assert cfg.spurious == (r["cue"] != "none") and (not cfg.spurious or cfg.cue_kind == r["cue"])


def _fake(seed_values: dict[tuple, list[float]]) -> tuple[list[dict], list[dict]]:
    runs, metrics = [], []
    for (backbone, training), values in seed_values.items():
        for seed, v in values:
            runs.append({"dataset": "cxr-phantom", "cue": "corner", "backbone": backbone, "training": training,
                         "seed": seed})
            metrics.append({"accuracy": v})
    return runs, metrics


def test_paired_differences_use_same_seed_pairs_only():
    from scipy.stats import ttest_rel

    from core.reproduce.equiguard_stats import paired_differences

    rng = np.random.default_rng(0)
    guided = [(s, float(v)) for s, v in zip([4, 0, 2, 1, 3], rng.uniform(0.5, 1.0, 5))]
    unguided = [(s, float(v)) for s, v in zip([1, 3, 0, 4], rng.uniform(0.2, 0.6, 4))]  # seed 2 missing
    runs, metrics = _fake({("conv4", "dice"): guided, ("conv4", "unguided"): unguided})
    order = rng.permutation(len(runs))  # run order must not matter
    diffs = paired_differences([runs[i] for i in order], [metrics[i] for i in order], ["accuracy"])
    (row,) = [d for d in diffs if d["contrast"] == "guided − unguided" and d["level"] == "conv4"]
    assert row["seeds"] == [0, 1, 3, 4]
    g, u = dict(guided), dict(unguided)
    expected = [g[s] - u[s] for s in row["seeds"]]
    assert row["accuracy"]["values"] == pytest.approx(expected)
    oracle = ttest_rel([g[s] for s in row["seeds"]], [u[s] for s in row["seeds"]]).confidence_interval(0.95)
    assert row["accuracy"]["mean"] - row["accuracy"]["ci95"] == pytest.approx(oracle.low)
    assert row["accuracy"]["mean"] + row["accuracy"]["ci95"] == pytest.approx(oracle.high)
    # Unpaired means would differ: the pairing is what is measured.
    assert row["accuracy"]["mean"] != pytest.approx(np.mean(list(g.values())) - np.mean(list(u.values())))
    # Contrasts whose conditions did not run are left out rather than reported empty.
    assert {d["contrast"] for d in diffs} == {"guided − unguided"}


def test_resume_cache_skips_finished_runs_and_pairs_real_runs(tmp_path, monkeypatch):
    import core.fewshot.runner as runner
    from core.reproduce.equiguard_experiment import run_equiguard

    out = tmp_path / "eq"
    first = run_equiguard(out, quick=True, seeds=[0, 1], workers=1, datasets=["cxr-phantom"], cues=["stripes"])
    assert first["runs_computed"] == 10 and first["runs_cached"] == 0
    by_run = {(r["backbone"], r["training"], r["seed"]): r["metrics"] for r in first["runs"]}
    for d in first["differences"]:
        a, b = tuple(d["a"].split()), tuple(d["b"].split())
        for name in first["metrics"]:
            want = [None if by_run[(*a, s)][name] is None or by_run[(*b, s)][name] is None
                    else by_run[(*a, s)][name] - by_run[(*b, s)][name] for s in d["seeds"]]
            assert d[name]["values"] == pytest.approx(want)

    def refuse(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(runner, "run_fewshot", refuse)
    again = run_equiguard(out, quick=True, seeds=[0, 1], workers=1, datasets=["cxr-phantom"], cues=["stripes"])
    assert again["runs_cached"] == 10 and again["rows"] == first["rows"]
    assert again["differences"] == first["differences"]

    # An interrupted run (no cache file) is the only one computed again.
    monkeypatch.undo()
    victim = first["runs"][3]["name"]
    (out / "runs" / victim / runner.CACHE_FILE).unlink()
    calls = []
    real = runner.run_fewshot
    monkeypatch.setattr(runner, "run_fewshot", lambda config, folder: calls.append(folder.name) or real(config, folder))
    third = run_equiguard(out, quick=True, seeds=[0, 1], workers=1, datasets=["cxr-phantom"], cues=["stripes"])
    assert calls == [victim] and third["runs_cached"] == 9
    assert third["rows"] == first["rows"]  # seeded end to end: the recomputed run is the same


@pytest.mark.slow
def test_quick_report_has_every_condition(tmp_path):
    from core.reproduce.equiguard_design import CONDITIONS, CUES, DATASETS
    from core.reproduce.equiguard_stats import CONTRASTS

    out = tmp_path / "quick"
    proc = run_cli("--workspace", str(tmp_path / "ws"), "reproduce", "equiguard", "--quick", "--workers", "1",
                   "--out", str(out), env=ONE_THREAD)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "results.json").read_text())
    assert summary["quick"] is True and summary["synthetic_data"] is True and summary["seeds"] == [0]
    cells = {(r["dataset"], r["cue"], r["backbone"], r["training"]) for r in summary["rows"]}
    assert cells == {(d, c, k.backbone, k.training) for d in DATASETS for c in CUES for k in CONDITIONS}
    assert len(summary["rows"]) == 40
    for row in summary["rows"]:
        for name in summary["metrics"]:
            assert row[name]["n"] == 1 and 0.0 <= row[name]["mean"] <= 1.0, (row, name)
        # Accuracy under attack never exceeds the clean accuracy of the same queries.
        run = next(r for r in summary["runs"] if (r["dataset"], r["cue"], r["backbone"], r["training"])
                   == (row["dataset"], row["cue"], row["backbone"], row["training"]))
        m = run["metrics"]
        assert all(m[n] <= m["subset_accuracy"] + 1e-9 for n in summary["metrics"] if n.startswith("attack_accuracy"))
    assert len(summary["differences"]) == len(DATASETS) * len(CUES) * len(CONTRASTS)
    md = (out / "results.md").read_text()
    assert "NOT clinical data" in md and md.count("\n| brain |") + md.count("\n| CXR |") == 40 + 40
    assert (out / "runs" / ".gitignore").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--cues", "checkerboard"], "error: unknown cue 'checkerboard'; choose from none, corner, gradient, stripes"),
    (["--datasets", "brats"], "error: unknown phantom 'brats'; choose from brain-phantom, cxr-phantom"),
    (["--workers", "0"], "error: --workers and --threads must be at least 1"),
    (["--data-seeds", "0", "--train-seeds", "1"],
     "error: this experiment uses each seed as both data and training seed: give --seeds only"),
])
def test_bad_input_is_one_line_error(tmp_path, capsys, argv, message):
    from core.cli import main

    code = main(["--workspace", str(tmp_path / "ws"), "reproduce", "equiguard", "--quick", "--out",
                 str(tmp_path / "out"), *argv])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [message]
    assert not (tmp_path / "out" / "results.json").exists()
