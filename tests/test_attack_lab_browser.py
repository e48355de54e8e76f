"""The Attack lab in a real browser on a medical image with its ROI and two few-shot models.

Also takes the README tour's screenshots into ``tests/artifacts/``; with
``EQUIGUARD_DOC_SCREENSHOTS=1`` (``make screenshots``) they also replace
``docs/images/{attack-lab-medical,home,fewshot}.png``. A plain test run never
changes committed files.
"""

from __future__ import annotations

import os
import shutil

import pytest

from browser import CHROMIUM, browser, page  # noqa: F401 - fixtures
from browser import goto, streamlit_server, wait_for_app
from conftest import ARTIFACTS, REPO_ROOT
from lab_workspace import RUN, build_lab_workspace

DOC_IMAGES = REPO_ROOT / "docs" / "images"
#: A phantom both tiny models classify so that the worst case has something to break (seeded workspace).
IMAGE = "brain-phantom-02.png [speckled] · ROI"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (make browser)"),
]


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    ws = build_lab_workspace(tmp_path_factory.mktemp("lab-browser") / "workspace")
    with streamlit_server(ws.root, tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    if os.environ.get("EQUIGUARD_DOC_SCREENSHOTS") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACTS / name, DOC_IMAGES / name)


def _tables(page) -> list[list[list[str]]]:
    """The CAM–ROI tables on the page: per model, rows of [metric, clean, attacked]."""
    out = []
    for table in page.locator("table").filter(has_text="CAM vs expert ROI").all():
        rows = [[c.strip() for c in r.split("\t")] for r in table.locator("tbody").inner_text().splitlines()]
        out.append(rows)
    return out


def _choose(page, label: str, option: str) -> None:
    page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def _settled(page, text: str) -> None:
    """Wait until the page's last caption (drawn at the end of a run) says ``text``."""
    page.locator('[data-testid="stMain"]').get_by_text(text).wait_for(timeout=60000)
    wait_for_app(page)


def test_eps_and_roi_mode_change_the_cam_roi_numbers(lab_url, page):
    goto(page, f"{lab_url}/attack_lab")
    assert page.locator('[data-testid="stException"]').count() == 0
    main = page.locator('[data-testid="stMain"]')
    # The default view: a phantom with its ROI, the guided and the unguided few-shot model side by side.
    assert main.get_by_text("image: brain-phantom-00.png").count() == 1
    assert main.get_by_role("heading", name=f"fewshot/{RUN}/dice").count() == 1
    assert main.get_by_role("heading", name=f"fewshot/{RUN}/none").count() == 1
    _choose(page, "Image", IMAGE)
    _settled(page, "image: brain-phantom-02.png [speckled] · ROI · ε = 8/255, perturbed everywhere")
    everywhere = _tables(page)
    assert len(everywhere) == 2 and [r[0] for r in everywhere[0]] == ["CAM–ROI Dice", "pointing game"]

    page.get_by_text("outside the lesion only (spurious features)").click()
    _settled(page, "ε = 8/255, perturbed outside")
    outside = _tables(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert outside != everywhere
    # The clean column does not depend on the attack; the attacked one moved.
    assert [[r[1] for r in t] for t in outside] == [[r[1] for r in t] for t in everywhere]
    _shot(page, "attack-lab-medical.png")

    eps = page.get_by_role("slider", name="ε (/255)")
    eps.focus()
    eps.press("Home")  # ε = 0
    _settled(page, "ε = 0/255, perturbed outside")
    zero = _tables(page)
    assert zero != outside
    assert all(r[1] == r[2] for t in zero for r in t)  # nothing attacked: the numbers agree
    print("CAM–ROI tables (everywhere ε=8, outside ε=8, outside ε=0):", everywhere, outside, zero)


@pytest.mark.parametrize("name, path", [("home.png", ""), ("fewshot.png", "fewshot")])
def test_tour_screenshots(lab_url, page, name, path):
    goto(page, f"{lab_url}/{path}")
    page.wait_for_timeout(1500)  # plots and images finish drawing
    wait_for_app(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    _shot(page, name)
