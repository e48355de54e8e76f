"""Report plumbing behind the Robustness page: the transforms command, series, figures and exports."""

from __future__ import annotations

import csv
import io
import json

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
    assert set(ROBUSTNESS_RUNS) >= {"fgsm", "pgd", "clever", "transforms"}
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
