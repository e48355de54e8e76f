"""Streamlit AppTest: every page renders over a demo workspace, and the main interactions work."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT

APP = str(REPO_ROOT / "app.py")
PAGES = ["app_pages/home.py", "app_pages/annotate.py", "app_pages/fewshot.py", "app_pages/symmetry.py", "app_pages/attack_lab.py",
         "app_pages/robustness.py"]


@pytest.fixture
def studio_env(studio_workspace, monkeypatch):
    monkeypatch.setenv("EQUIGUARD_WORKSPACE", str(studio_workspace.root))
    return studio_workspace


def _open(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page is not None:
        at.switch_page(page)
        at.run()
    return at


def test_app_entry_renders_home(studio_env):
    at = _open()
    assert not at.exception
    assert at.title[0].value == "EquiGuard Studio"


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_exception(studio_env, page):
    at = _open(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{page} shows no title"
