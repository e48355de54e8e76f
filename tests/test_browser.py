"""Real-browser tests: the studio served by ``streamlit run`` and driven by Debian's chromium.

Only these can exercise the drawing canvas.  Screenshots of every page go to
``tests/artifacts/`` (git-ignored) for a human to look at.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from conftest import ARTIFACTS, REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PAGES = {"home": "", "annotate": "annotate", "agreement": "agreement", "fewshot": "fewshot", "symmetry": "symmetry",
         "attack_lab": "attack_lab", "robustness": "robustness"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (make browser)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"streamlit did not become healthy at {url} within {timeout:.0f} s")


@contextlib.contextmanager
def _streamlit_server(workspace_root: Path, log: Path):
    """``streamlit run app.py`` on a free port over ``workspace_root``; yields its URL."""
    port = _free_port()
    env = dict(os.environ, EQUIGUARD_WORKSPACE=str(workspace_root))
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"),
           "--server.port", str(port), "--server.headless", "true", "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def studio_url(studio_workspace, tmp_path_factory):
    """A running studio on a free port over the demo workspace; stopped in the finaliser."""
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    with _streamlit_server(studio_workspace.root, log) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def _wait_for_app(page, timeout_ms: int = 30000) -> None:
    """Wait until the script run finished (no running indicator) and the page has content."""
    page.wait_for_selector('[data-testid="stMain"] h1', timeout=timeout_ms)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)
    page.wait_for_timeout(500)


def _goto(page, url: str) -> None:
    page.goto(url)
    _wait_for_app(page)


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


def test_draw_polygon_on_canvas_and_save(studio_url, studio_workspace, page):
    from core.io import load_image
    from core.store import AnnotationStore
    from core.studio.canvas import fit_canvas

    store = AnnotationStore(studio_workspace)
    ct = next(r for r in store.list_images() if r.display_name == "CT_small.dcm")
    before = len(store.list_rois(ct.id))
    _goto(page, f"{studio_url}/annotate")
    # The first file in the sidebar list is demo/CT_small.dcm (sorted); make sure that is what is open.
    assert page.get_by_text("demo/CT_small.dcm").count() >= 1
    page.get_by_label("Reader name", exact=True).fill("browser-test")
    page.get_by_role("button", name="Start reading").click()
    page.get_by_text("Reading as").wait_for(timeout=30000)
    _wait_for_app(page)

    canvases = page.locator("canvas")
    canvases.last.wait_for(state="visible", timeout=30000)
    box = canvases.last.bounding_box()
    width, height, transform = fit_canvas(tuple(load_image(ct.source_path).frame(0).shape[:2]))
    assert abs(box["width"] - width) < 1.5 and abs(box["height"] - height) < 1.5
    points = [(0.2 * width, 0.2 * height), (0.7 * width, 0.25 * height), (0.65 * width, 0.7 * height),
              (0.25 * width, 0.6 * height)]
    for x, y in points + [points[0]]:  # clicking the first vertex again closes the polygon
        page.mouse.click(box["x"] + x, box["y"] + y)
        page.wait_for_timeout(250)
    _wait_for_app(page)
    page.screenshot(path=str(ARTIFACTS / "annotate_polygon_drawn.png"), full_page=True)
    page.get_by_role("button", name="Save", exact=True).click()
    deadline = time.monotonic() + 30
    while len(store.list_rois(ct.id)) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    # The page reruns after a save: the stored ROI is listed (and drawn in orange) again.
    page.get_by_text(f"ROIs on this image ({before + 1})").wait_for(timeout=30000)
    _wait_for_app(page)
    page.screenshot(path=str(ARTIFACTS / "annotate_polygon_saved.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    new = [r for r in store.list_rois(ct.id) if r.annotator == "browser-test"]
    assert len(new) == 1
    roi = new[0]
    assert roi.label == "lesion"
    expected = _polygon_area([tuple(p) for p in transform.to_image(np.array(points))])
    # Pixel-centre rasterisation of a polygon differs from its exact area by at most about its perimeter.
    assert abs(roi.area - expected) <= 0.03 * expected, (roi.area, expected)
    assert roi.geometry and roi.geometry.get("type") == "Polygon"


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
