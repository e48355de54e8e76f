"""Few-shot runs on the Robustness page: jobs' command lines, reports overlaid, and the page's states."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from conftest import open_page
from core.cli import build_parser, main
from core.studio import fewshot_robustness_view as fv
from core.studio import robustness_view as rv
from core.studio.commands import fewshot_robustness_argv, fewshot_robustness_path



@pytest.fixture(scope="module")
def fs_workspace(tmp_path_factory):
    """A workspace with a guided and an unguided tiny studio run (``reports/fewshot/tiny/<guidance>``)."""
    from core.fewshot import RunConfig, TrainConfig, run_fewshot
    from core.studio.commands import fewshot_out_dir
    from core.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("fsrobust") / "workspace")
    for guidance in ("dice", "none"):
        cfg = RunConfig(dataset="brain-phantom", patients=12, slices=3, size=32, hidden=8, embed_dim=8,
                        eval_episodes=4, cam_episodes=1,
                        train=TrainConfig(episodes=3, shot=2, query=2, seed=0, guidance=guidance))
        run_fewshot(cfg, fewshot_out_dir(ws, "tiny", guidance))
    return ws


def _page(ws, monkeypatch) -> AppTest:
    return open_page(ws.root, monkeypatch, "pages/robustness.py")


def test_job_command_lines_parse_with_the_real_cli(fs_workspace):
    runs = fv.fewshot_runs(fs_workspace)
    assert sorted(r.name for r in runs) == ["fewshot/tiny/dice", "fewshot/tiny/none"]
    for quick in (False, True):
        for mode in (None, "outside"):
            argv = fewshot_robustness_argv(fs_workspace, runs[0].name, runs[0].path.parent, quick=quick, roi_mode=mode)
            args = build_parser().parse_args(argv)
            assert args.quick == quick and args.roi_mode == mode and args.run == str(runs[0].path.parent)
            assert args.out == str(fewshot_robustness_path(fs_workspace, runs[0].name, mode))


def test_page_without_reports_offers_the_jobs(fs_workspace, monkeypatch):
    at = _page(fs_workspace, monkeypatch)
    assert any("No few-shot robustness report yet" in i.value for i in at.info)
    assert at.multiselect(key="rb_fs_runs").options == [r.name for r in fv.fewshot_runs(fs_workspace)]
    assert not at.button(key="rb_fs_start").disabled


def test_empty_workspace_says_there_are_no_fewshot_runs(workspace, monkeypatch):
    at = _page(workspace, monkeypatch)
    assert any("No few-shot runs yet" in i.value for i in at.info)


@pytest.fixture(scope="module")
def fs_reports(fs_workspace):
    """Real quick reports of both runs, written by the job's own command line."""
    for run in fv.fewshot_runs(fs_workspace):
        argv = fewshot_robustness_argv(fs_workspace, run.name, run.path.parent, quick=True)
        argv += ["--steps", "3", "--n-queries", "10"]
        assert main(["--workspace", str(fs_workspace.root), *argv]) == 0
    return fv.fewshot_reports(fs_workspace, fv.fewshot_runs(fs_workspace))


def test_reports_overlay_guided_and_unguided(fs_reports):
    reports, problems = fs_reports
    assert not problems and len(reports) == 2
    assert sorted(" · ".join(k.split(" · ")[1:3]) for k in reports) == ["conv4 · guided (dice)", "conv4 · unguided"]
    for kind, metric, title, xlab, xs, ylab in fv.FIGURES:
        series = fv.curve_series(reports, kind, metric)
        assert set(series) == set(reports)
        fig = rv.curve_figure(series, title, xlab, x_scale=xs, y_title=ylab)
        assert fig.layout.yaxis.title.text == ylab
        assert len([t for t in fig.data if t.mode == "lines+markers"]) == 2
    rot = fv.curve_series(reports, "rotation", "accuracy")
    assert all(x == ["0", "90", "random"] for x, _, _ in rot.values())
    rows = fv.summary_rows(reports)
    assert len(rows) == 2 and all("ε 8/255 acc" in r and "rot random Dice" in r for r in rows)
    csv_text = rv.curves_csv({f"few-shot {m} vs {k}": fv.curve_series(reports, k, m) for k, m, *_ in fv.FIGURES})
    assert csv_text.count("\n") == 1 + 6 * 2 * 3


def test_page_shows_fewshot_curves_and_a_broken_report_in_one_line(fs_workspace, fs_reports, monkeypatch):
    at = _page(fs_workspace, monkeypatch)
    assert not any("No few-shot robustness report yet" in i.value for i in at.info)
    assert len(at.multiselect(key="rb_fs_show").value) == 2
    assert any("Few-shot summary" in m.value for m in at.markdown)
    keys = [c.key for c in at.get("plotly_chart") if (c.key or "").startswith("rb-fs-")]
    assert len(keys) == len(fv.FIGURES)
    broken = fewshot_robustness_path(fs_workspace, "fewshot/tiny/dice", "outside")
    broken.write_text("{not json")
    other = fewshot_robustness_path(fs_workspace, "fewshot/tiny/none", "inside")
    other.write_text(json.dumps({"format": "something else"}))
    at = _page(fs_workspace, monkeypatch)
    errors = [e.value for e in at.error]
    assert len(errors) == 2 and all("\n" not in e for e in errors)
    assert any("fewshot/tiny/dice" in e and "not a readable JSON report" in e for e in errors)
    assert any("not a few-shot robustness report" in e for e in errors)
    assert len(at.multiselect(key="rb_fs_show").value) == 2  # the good reports are still shown
    broken.unlink()
    other.unlink()
