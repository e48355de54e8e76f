"""Report plumbing behind the Robustness page: the transforms command, series, figures and exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from core.cli import main
from core.studio import robustness_view as rv
from core.studio.commands import ROBUSTNESS_RUNS, robustness_argv, robustness_dir


@pytest.fixture(scope="module")
def transforms_report(studio_workspace):
    checkpoint = studio_workspace.checkpoints / "baseline-digits-test" / "model.pt"
    argv = robustness_argv(studio_workspace, "baseline-digits-test", checkpoint, "transforms")
    argv[argv.index("--n-images") + 1] = "40"
    argv += ["--angles", "0,90", "--scales", "1,0.7", "--corruptions", "contrast,jpeg", "--severities", "1,5"]
    assert main(["--workspace", str(studio_workspace.root), *argv]) == 0
    return json.loads((robustness_dir(studio_workspace, "baseline-digits-test") / "transforms.json").read_text())


def test_transforms_report_is_consistent(transforms_report):
    r = transforms_report
    assert r["n_images"] == 40 and r["arch"] == "baseline"
    # The identity transform must reproduce the clean accuracy exactly.
    assert r["rotation"]["mean"][0] == r["clean_accuracy"]
    assert r["scale"]["mean"][0] == r["clean_accuracy"]
    table = r["corruption"]["table"]
    assert set(table) == {"contrast", "jpeg"} and all(set(row) == {"1", "5"} for row in table.values())
    values = [v for row in table.values() for v in row.values()]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert r["corruption"]["mean"] == pytest.approx(sum(values) / len(values))


def test_bad_transforms_options_are_one_line_errors(studio_workspace, capsys):
    checkpoint = studio_workspace.checkpoints / "baseline-digits-test" / "model.pt"
    code = main(["--workspace", str(studio_workspace.root), "transforms", "--checkpoint", str(checkpoint),
                 "--corruptions", "glitter", "--out", str(studio_workspace.reports / "x.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "glitter" in err[0]
    assert not (studio_workspace.reports / "x.json").exists()


def test_series_figures_and_exports(studio_workspace, transforms_report):
    reports = rv.model_reports(studio_workspace, ["baseline-digits-test", "no-such-model"])
    assert list(reports) == ["baseline-digits-test"] and "transforms" in reports["baseline-digits-test"]
    assert set(ROBUSTNESS_RUNS) == {"attack", "clever", "transforms"}
    series = {"a": ([0.0, 4 / 255], [0.9, 0.5], [0.01, None]), "b": ([0.0], [0.8], [None])}
    fig = rv.curve_figure(series, "t", "ε", x_scale=255)
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert [list(t.x) for t in lines] == [[0.0, 4.0], [0.0]] and list(lines[0].y) == [90.0, 50.0]
    assert len(fig.data) == 3  # one CI band: only "a" has an interval
    rows = list(csv.reader(io.StringIO(rv.curves_csv({"fgsm": series}))))
    assert rows[0] == ["curve", "model", "x", "accuracy", "ci95"] and len(rows) == 4
    heat = rv.corruption_heatmap(transforms_report["corruption"]["table"], "h")
    z = heat.data[0].z
    assert len(z) == 2 and len(z[0]) == 2
    seeds = rv.corruption_heatmap({"jpeg": {"1": {"mean": 0.5, "ci95": 0.1}}}, "h")
    assert seeds.data[0].z[0][0] == 50.0
    html = rv.figures_html([fig, heat])
    assert html.count("<html") == 1 and html.count("plotly.js v") <= 2


def test_registry_flags_unreadable_files_of_either_kind(workspace):
    from core.studio.registry import checkpoint_files, list_models

    (workspace.checkpoints / "fewshot" / "run").mkdir(parents=True)
    (workspace.checkpoints / "fewshot" / "run" / "checkpoint.pt").write_bytes(b"protonet")
    (workspace.checkpoints / "broken").mkdir()
    (workspace.checkpoints / "broken" / "model.pt").write_bytes(b"not a checkpoint")
    assert sorted(p.parent.name for p in checkpoint_files(workspace)) == ["broken", "run"]
    entries = list_models(workspace)
    assert sorted(e.name for e in entries) == ["broken", "fewshot/run"]
    assert all(e.error and "\n" not in e.error for e in entries)


# ---------------------------------------------------------------- worst case, masking checks, CLEVER vs minimal


@pytest.fixture(scope="module")
def attack_reports(studio_workspace):
    """A real (small-budget) worst-case report for the baseline, with the other model as surrogate,
    a CLEVER report with minimal perturbations, and a copy marked suspicious for the second model."""
    ws, base, other = studio_workspace, "baseline-digits-test", "parallel_rot_scale-digits-test"
    checkpoint = ws.checkpoints / base / "model.pt"
    argv = robustness_argv(ws, base, checkpoint, "attack", surrogate=ws.checkpoints / other / "model.pt")
    argv[argv.index("--n-images") + 1] = "24"
    argv += ["--version", "fast", "--ensemble-steps", "5", "--ensemble-queries", "30", "--eps", "0,4/255,16/255"]
    assert main(["--workspace", str(ws.root), *argv]) == 0
    argv = robustness_argv(ws, base, checkpoint, "clever")
    argv[argv.index("--n-images") + 1] = "2"
    argv += ["--nb-batch", "3", "--batch-size", "6", "--bisections", "2"]
    assert main(["--workspace", str(ws.root), *argv]) == 0
    report = json.loads((robustness_dir(ws, base) / "attack.json").read_text())
    forged = json.loads(json.dumps(report))
    forged["masking_checks"][2] = {**forged["masking_checks"][2], "passed": False, "status": "FAIL",
                                   "detail": "Square broke 3 image(s) the white-box attacks missed"}
    forged["suspicious"] = True
    (robustness_dir(ws, other)).mkdir(parents=True, exist_ok=True)
    (robustness_dir(ws, other) / "attack.json").write_text(json.dumps(forged))
    return report


def test_attack_job_argv_carries_the_surrogate(studio_workspace):
    from core.studio.commands import surrogate_for
    from core.studio.registry import list_models

    models = list_models(studio_workspace)
    surrogate = surrogate_for(models, "parallel_rot_scale-digits-test", "digits")
    # other tests of the session may add baselines to the shared workspace: any plain digits baseline will do
    baselines = {Path(m.path) for m in models if m.arch == "baseline" and m.metrics.get("dataset", "digits") == "digits"}
    assert surrogate in baselines
    assert surrogate_for(models, "baseline-digits-test", "digits") in (None, *[m.path for m in models
                                                                              if m.arch == "baseline"])
    argv = robustness_argv(studio_workspace, "x", surrogate, "attack", surrogate=surrogate)
    assert argv[argv.index("--surrogate") + 1] == str(surrogate) and argv[argv.index("--attack") + 1] == "autoattack"
    assert "--surrogate" not in robustness_argv(studio_workspace, "x", surrogate, "clever", surrogate=surrogate)


def test_worst_case_report_series_badges_and_figures(studio_workspace, attack_reports):
    r = attack_reports
    assert r["curve"]["mean"] == r["headline"]["mean"]  # the report's curve is the headline
    assert [c["name"] for c in r["masking_checks"]] == ["large_eps", "budget_ladder", "black_box", "transfer",
                                                        "zero_gradient"]
    assert r["masking_checks"][3]["passed"] is not None  # the surrogate made the transfer check run
    reports = rv.model_reports(studio_workspace, ["baseline-digits-test", "parallel_rot_scale-digits-test"])
    badges = {m: rv.masking_badge(d["attack"]) for m, d in reports.items()}
    assert badges["parallel_rot_scale-digits-test"] == ("suspicious", "red")
    assert badges["baseline-digits-test"][0] == ("suspicious" if r["suspicious"] else "checks passed")
    assert rv.masking_badge({}) == ("masking not checked", "gray")
    rows = rv.masking_rows(reports)
    assert [row["verdict"] for row in rows if row["model"].startswith("parallel")] == ["suspicious"]
    assert any("FAIL: Square broke 3" in row["black_box"] for row in rows)
    headline, weak = rv.headline_series(reports), rv.weak_series(reports)
    for model in headline:
        assert all(h <= w + 1e-12 for h, w in zip(headline[model][1], weak[model][1]))  # worst case <= PGD-10
    fig = rv.curve_figure(headline, rv.HEADLINE_TITLE, "ε", x_scale=255, weak=weak)
    dashed = [t for t in fig.data if t.line.dash == "dash"]
    assert len(dashed) == len(weak) and all("(weak)" in t.name for t in dashed)
    clever = reports["baseline-digits-test"]["clever"]
    pairs = clever["clever_vs_minimal"]["pairs"]
    assert len(pairs) == 2 and clever["clever_vs_minimal"]["overestimates"] == sum(
        p["minimal"] is not None and p["clever"] > p["minimal"] for p in pairs)
    scatter = rv.clever_minimal_figure({"baseline": pairs})
    assert len(scatter.data) == 2 and scatter.data[-1].line.dash == "dot"


def test_robustness_page_shows_badges_checks_and_headline(studio_workspace, attack_reports, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from conftest import REPO_ROOT

    monkeypatch.setenv("EQUIGUARD_WORKSPACE", str(studio_workspace.root))
    # An old reproduction (PGD only) in the workspace: the page must say its numbers overestimate robustness.
    old = studio_workspace.reports / "equivariance-old" / "equivariance.json"
    old.parent.mkdir(parents=True, exist_ok=True)
    stat = {"mean": 0.5, "ci95": 0.1, "n": 2}
    old.write_text(json.dumps({"settings": {"dataset": "digits", "seeds": [0, 1]}, "models": {
        "baseline": {"pgd": {"x": [0.0, 8 / 255], "stats": [stat, stat]}}}}))
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/robustness.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert any("parallel_rot_scale-digits-test" in b and ":red-badge[suspicious]" in b for b in badges)
    assert any("baseline-digits-test" in b for b in badges)
    assert any("Gradient-masking checks" in m.value for m in at.markdown)
    labels = at.selectbox(key="rb_repro_pick").options
    at.selectbox(key="rb_repro_pick").set_value(next(o for o in labels if "equivariance-old" in o)).run()
    assert not at.exception
    assert any("predates the worst-case evaluation" in w.value for w in at.warning)
    new = [o for o in labels if "worst" in rv.find_reproductions(studio_workspace)[o]["models"]["baseline"]]
    if new:  # the repository's own reproduction, once regenerated with worst-case numbers
        at.selectbox(key="rb_repro_pick").set_value(new[0]).run()
        assert not at.exception and not at.warning
        assert any("Paired differences to the baseline" in m.value for m in at.markdown)
