"""Real-browser tests: the studio served by ``streamlit run`` and driven by Debian's chromium.

Only these can exercise the viewer component (see also test_viewer_browser.py).  Screenshots of every page go to
``tests/artifacts/`` (git-ignored) for a human to look at.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from browser import CHROMIUM, browser, page  # noqa: F401 - fixtures
from browser import fit_transform, sign_in, wait_for_viewer
from browser import goto as _goto, streamlit_server as _streamlit_server, wait_for_app as _wait_for_app
from conftest import ARTIFACTS

PAGES = {"home": "", "annotate": "annotate", "agreement": "agreement", "fewshot": "fewshot", "symmetry": "symmetry",
         "attack_lab": "attack_lab", "robustness": "robustness"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (make browser)"),
]


@pytest.fixture(scope="module")
def studio_url(studio_workspace, tmp_path_factory):
    """A running studio on a free port over the demo workspace; stopped in the finaliser."""
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    with _streamlit_server(studio_workspace.root, log) as url:
        yield url


@pytest.mark.parametrize("name", list(PAGES))
def test_page_screenshot_has_no_exception(studio_url, page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _goto(page, f"{studio_url}/{PAGES[name]}")
    page.wait_for_timeout(1500)  # images, plots and the canvas component finish drawing
    _wait_for_app(page)
    page.screenshot(path=str(ARTIFACTS / f"page_{name}.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator("h1").count() >= 1


def _polygon_area(points: list[tuple[float, float]]) -> float:
    xs, ys = np.array(points).T
    return 0.5 * abs(float(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))))


def test_draw_polygon_in_the_viewer_and_save(studio_url, studio_workspace, page):
    from core.io import load_image
    from core.store import AnnotationStore

    store = AnnotationStore(studio_workspace)
    ct = next(r for r in store.list_images() if r.display_name == "CT_small.dcm")
    before = len(store.list_rois(ct.id))
    _goto(page, f"{studio_url}/annotate")
    # The first file in the sidebar list is demo/CT_small.dcm (sorted); make sure that is what is open.
    assert page.get_by_text("demo/CT_small.dcm").count() >= 1
    sign_in(page, "browser-test")
    state = wait_for_viewer(page)
    shape = tuple(load_image(ct.source_path).frame(0).shape[:2])
    s, left, top = fit_transform(state["stageRect"], shape)  # a 2-D image is never flipped
    fractions = [(0.2, 0.2), (0.7, 0.25), (0.65, 0.7), (0.25, 0.6)]
    image_points = [(fx * shape[1], fy * shape[0]) for fx, fy in fractions]
    page.locator(".eg-tool[data-tool=polygon]").click()  # the toolbar gives the viewer keyboard focus
    for x, y in image_points:
        page.mouse.click(left + s * x, top + s * y)
    page.keyboard.press("Enter")  # closes the polygon
    page.screenshot(path=str(ARTIFACTS / "annotate_polygon_drawn.png"), full_page=True)
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while len(store.list_rois(ct.id)) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    mine = len([r for r in store.list_rois(ct.id) if r.annotator == "browser-test"])
    page.get_by_text(f"Your ROIs in this image ({mine})").wait_for(timeout=30000)
    _wait_for_app(page)
    page.screenshot(path=str(ARTIFACTS / "annotate_polygon_saved.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    new = [r for r in store.list_rois(ct.id) if r.annotator == "browser-test"]
    assert len(new) == 1
    roi = new[0]
    assert roi.label == "lesion"
    expected = _polygon_area(image_points)
    # Pixel-centre rasterisation of a polygon differs from its exact area by at most about its perimeter.
    assert abs(roi.area - expected) <= 0.03 * expected, (roi.area, expected)
    assert roi.geometry["type"] == "polygon"
    assert np.allclose(roi.geometry["points"], image_points, atol=0.5 / s + 1e-3)


def test_deep_link_on_a_fresh_server_shows_the_page_inside_the_navigation(studio_workspace, page, tmp_path):
    """A folder named ``pages`` makes a fresh Streamlit server start in legacy
    multipage mode; the first request being a deep link must still run app.py."""
    with _streamlit_server(studio_workspace.root, tmp_path / "server.log") as url:
        _goto(page, f"{url}/attack_lab")
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator("h1").first.inner_text().strip() == "Attack lab"
        nav = " ".join(page.locator('[data-testid="stSidebarNav"]').all_inner_texts())
        for title in ("Home", "Annotate", "Few-shot training", "Symmetry models", "Robustness report"):
            assert title in nav
