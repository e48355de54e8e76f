"""Shared helpers of the real-browser tests: a ``streamlit run`` server and Debian's chromium.

Used by ``test_browser.py`` (every page) and ``test_viewer_browser.py`` (the viewer).
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

import pytest

from conftest import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
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
def streamlit_server(workspace_root: Path, log: Path, script: Path | None = None, env: dict | None = None,
                     args: list[str] | None = None):
    """``streamlit run`` (``app.py`` by default, with script ``args``) on a free port over ``workspace_root``."""
    port = free_port()
    full_env = dict(os.environ, EQUIGUARD_WORKSPACE=str(workspace_root), **(env or {}))
    cmd = [sys.executable, "-m", "streamlit", "run", str(script or REPO_ROOT / "app.py"),
           "--server.port", str(port), "--server.headless", "true", "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    if args:
        cmd += ["--", *args]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for_app(page, timeout_ms: int = 30000) -> None:
    """Wait until the script run finished (no running indicator) and the page has content."""
    page.wait_for_selector('[data-testid="stMain"] h1', timeout=timeout_ms)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)
    page.wait_for_timeout(500)


def goto(page, url: str) -> None:
    page.goto(url)
    wait_for_app(page)


@pytest.fixture(scope="module")
def browser():
    """One headless Debian chromium per test module."""
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


def viewer_state(page, name: str = "ann_viewer") -> dict:
    """The viewer's own account of itself (view transform, window, tool, local ROIs, stage rect)."""
    return page.evaluate("(n) => window.__equiguardViewers[n].debug()", name)


def wait_for_viewer(page, name: str = "ann_viewer", uid: str | None = None, timeout_ms: int = 30000) -> dict:
    """Wait until the viewer shows plane stack ``uid`` (any, if None) and has drawn its current plane."""
    page.wait_for_function(
        """([n, uid]) => { const v = (window.__equiguardViewers || {})[n];
            if (!v || !v.data) return false; const d = v.debug(); return d.rendered && (!uid || d.uid === uid); }""",
        arg=[name, uid], timeout=timeout_ms)
    return viewer_state(page, name)


def fit_transform(stage: dict, shape: tuple[int, int], flip: bool = False, aspect: float = 1.0):
    """Where a fitted (H, W) plane lands, worked out here independently: ``(s, tx, ty)`` in page pixels.

    screen = (left + tx + sx * x, top + ty + s * aspect * y) with sx = -s when flipped.
    """
    height, width = shape
    s = min(stage["width"] / width, stage["height"] / (height * aspect))
    tx = (stage["width"] + s * width) / 2 if flip else (stage["width"] - s * width) / 2
    return s, stage["left"] + tx, stage["top"] + (stage["height"] - s * aspect * height) / 2


def sign_in(page, name: str) -> None:
    """Start reading as ``name`` through the sidebar's reader-profile form."""
    reader = page.get_by_label("Reader name", exact=True)
    reader.wait_for(timeout=30000)  # the sidebar renders after the page's first script run
    reader.fill(name)
    page.get_by_role("button", name="Start reading").click()
    page.get_by_text("Reading as").first.wait_for(timeout=30000)
    wait_for_app(page)


def choose_option(page, label: str, option: str) -> None:
    """Pick ``option`` in the sidebar selectbox labelled ``label`` (e.g. "Image file") and wait for the rerun."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)
