"""Few-shot page (AppTest): its defaults are the library's, and bad input is one message with no job launched."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT
from core.cli import build_parser
from core.cli.fewshot import run_config
from core.fewshot import DEFAULTS, RunConfig

APP = str(REPO_ROOT / "app.py")


@pytest.fixture
def page(studio_workspace, monkeypatch):
    """The Few-shot page over the demo workspace, with job launches recorded instead of started."""
    import core.jobs

    monkeypatch.setenv("EQUIGUARD_WORKSPACE", str(studio_workspace.root))
    launched: list[list[str]] = []

    def record(ws, kind, argv, title=None, **kwargs):
        launched.append(list(argv))
        return len(launched)

    monkeypatch.setattr(core.jobs, "launch_job", record)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/fewshot.py")
    at.run()
    assert not at.exception
    return at, launched


def _launch(at: AppTest) -> AppTest:
    button = next(b for b in at.button if b.label == "Launch guided + unguided")
    return button.click().run()


def test_page_defaults_are_the_library_defaults(page):
    at, launched = page
    assert [at.number_input(key=k).value for k in ("fs_way", "fs_shot", "fs_query", "fs_episodes", "fs_alpha",
                                                     "fs_eval_episodes")] == [
        DEFAULTS.way, DEFAULTS.shot, DEFAULTS.query, DEFAULTS.episodes, DEFAULTS.alpha, DEFAULTS.eval_episodes]
    assert at.selectbox(key="fs_cam_score").value == DEFAULTS.cam_score
    assert [at.text_input(key=k).value for k in ("fs_data_seed", "fs_train_seed", "fs_eval_seed")] == [
        str(DEFAULTS.data_seed), str(DEFAULTS.train_seed), str(DEFAULTS.eval_seed)]
    _launch(at)
    assert not at.exception and not at.error
    assert len(launched) == 2  # guided and unguided
    guided = run_config(build_parser().parse_args(launched[0]))
    assert guided == RunConfig()  # the page's untouched form is the Python API's default run


def test_non_integer_seed_is_one_message_and_launches_nothing(page):
    at, launched = page
    at.text_input(key="fs_train_seed").set_value("1.5")
    _launch(at)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert errors[0] == "the training seed must be a whole number between 0 and 2^32 - 1, got '1.5'"
    assert launched == []


def test_data_that_cannot_fill_patient_disjoint_episodes_is_one_message(page):
    at, launched = page
    # 8 test patients of 4 slices per class: 19 + 13 images exist, but not 13 queries beside a 19-image support.
    at.number_input(key="fs_shot").set_value(19)
    at.number_input(key="fs_query").set_value(13)
    _launch(at)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert errors[0].startswith("test data: patient-disjoint 3-way 19-shot 13-query episodes")
    assert "class 'ring-enhancing' has 8 patients" in errors[0]
    assert launched == []
